//! The records the catalog stores and returns.
//!
//! Every stored value is JSON, so a field can be added later without a migration: new fields must
//! carry `#[serde(default)]` so that rows written by an older build still decode.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    pub created_ms: i64,
    /// The bucket's tag set (PutBucketTagging); empty when it has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The bucket's CORS rules (PutBucketCors), in the order given; empty when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors: Vec<CorsRule>,
    /// The bucket's public-access-block settings (PutPublicAccessBlock), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// The bucket's versioning state (PutBucketVersioning). Once enabled it can be suspended, never undone.
    #[serde(default, skip_serializing_if = "Versioning::is_unversioned")]
    pub versioning: Versioning,
    /// Object Lock, for a bucket created with it enabled (its versioning is then always enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
    /// The bucket policy document (PutBucketPolicy), as given; the gateway parses and checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The canonical id (access key) of the user who created the bucket; `None` for buckets made before owners
    /// were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Who owns the bucket's objects, and whether ACLs count (PutBucketOwnershipControls).
    #[serde(default, skip_serializing_if = "ObjectOwnership::is_enforced")]
    pub object_ownership: ObjectOwnership,
    /// The bucket's access control list, every grant as given (CreateBucket's ACL, PutBucketAcl); `None`: the
    /// default, the owner's full control. It counts only while [`BucketRecord::object_ownership`] enables ACLs;
    /// the owner may always do everything, whatever it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
    /// The bucket's lifecycle rules (PutBucketLifecycleConfiguration), in the order given; empty when it has
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<LifecycleRule>,
}

impl BucketRecord {
    /// A new bucket: no tags, no CORS rules, no public-access block, unversioned.
    pub fn new(name: &str, created_ms: i64) -> BucketRecord {
        BucketRecord {
            name: name.to_owned(),
            created_ms,
            tags: BTreeMap::new(),
            cors: Vec::new(),
            public_access_block: None,
            versioning: Versioning::Unversioned,
            object_lock: None,
            policy: None,
            owner: None,
            object_ownership: ObjectOwnership::BucketOwnerEnforced,
            acl: None,
            lifecycle: Vec::new(),
        }
    }
}

/// S3's Object Ownership of a bucket: who owns the objects written into it, and whether ACLs count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled: the bucket owner owns every object, and only policies and grants decide access (S3's
    /// default since 2023).
    #[default]
    BucketOwnerEnforced,
    /// ACLs count; an object written with the `bucket-owner-full-control` canned ACL is owned by the bucket
    /// owner, any other by its writer.
    BucketOwnerPreferred,
    /// ACLs count; every object is owned by its writer.
    ObjectWriter,
}

impl ObjectOwnership {
    pub fn is_enforced(&self) -> bool {
        *self == ObjectOwnership::BucketOwnerEnforced
    }
}

/// One grant of an access control list (S3's `Grant`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclGrant {
    pub grantee: AclGrantee,
    pub permission: AclPermission,
}

/// Whom a grant names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclGrantee {
    /// A user, by canonical id (Strata's canonical id is the access key).
    User(String),
    /// Everyone, signed or not (`http://acs.amazonaws.com/groups/global/AllUsers`).
    AllUsers,
    /// Every signed request (`http://acs.amazonaws.com/groups/global/AuthenticatedUsers`).
    AuthenticatedUsers,
    /// S3's log delivery group (`http://acs.amazonaws.com/groups/s3/LogDelivery`); stored and answered only.
    LogDelivery,
}

/// What a grant allows (S3's ACL permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclPermission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

/// A bucket's versioning state, as S3 has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled: a write replaces the key's one version, a delete removes it.
    #[default]
    Unversioned,
    /// Every write makes a new version with its own id; a delete without a version id adds a delete marker.
    Enabled,
    /// Writes and deletes replace the key's `null` version; versions made while enabled are kept.
    Suspended,
}

impl Versioning {
    pub fn is_unversioned(&self) -> bool {
        *self == Versioning::Unversioned
    }
}

/// S3's four public-access-block switches, as given. The gateway enforces them: `BlockPublicAcls` refuses a public ACL,
/// `IgnorePublicAcls` makes the public groups' grants count for nobody, `BlockPublicPolicy` refuses a public policy,
/// `RestrictPublicBuckets` keeps anonymous callers out of a public policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// One CORS rule of a bucket, as S3 stores it: which origins may send which methods with which headers.
/// Origins and headers may hold one `*` wildcard each; header names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    /// `GET`, `PUT`, `HEAD`, `POST` or `DELETE`.
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// One lifecycle rule of a bucket, as S3 stores it: which objects it applies to and when they expire. Days count
/// as S3 counts them: an action due `n` days after a time is due at the first midnight UTC at least `n` days
/// after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Status` is `Enabled`; a disabled rule is kept and does nothing.
    pub enabled: bool,
    /// Which objects the rule applies to.
    #[serde(default)]
    pub filter: LifecycleFilter,
    /// The filter came as the rule's own `Prefix` (the older form), not as a `Filter`: answered back the same way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_prefix: bool,
    /// Current versions expire this many days after their write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
    /// Current versions expire from this date on (midnight UTC, in ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<i64>,
    /// A delete marker that is the only version of its key left is removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_object_delete_marker: bool,
    /// Noncurrent versions are deleted this many days after they became noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<u32>,
    /// With `noncurrent_days`: the newest this many noncurrent versions of a key are kept however old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
    /// Multipart uploads are aborted this many days after they were initiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_days: Option<u32>,
}

/// The objects a [`LifecycleRule`] applies to: all of its conditions hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleFilter {
    /// The key starts with this (empty: every key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// The object has every one of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The object is larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    /// The object is smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

impl LifecycleFilter {
    /// Whether an object version with this key, size and tag set matches. A delete marker (no size, no tags)
    /// matches a filter on the prefix alone.
    pub fn matches(&self, key: &str, size: u64, tags: &BTreeMap<String, String>) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
            && self.size_greater_than.is_none_or(|min| size > min)
            && self.size_less_than.is_none_or(|max| size < max)
    }
}

/// One stored piece of an object's content. A simple PUT has one part; a multipart upload has N.
/// The blob is the sealed file name on a backend; it exists on every backend in
/// [`ObjectRecord::replicas`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    pub blob: String,
    pub size: u64,
    /// Hex BLAKE3 of the part's plaintext.
    pub blake3: String,
    /// Hex MD5 of this part, without quotes.
    pub etag: String,
}

/// User-visible object metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    /// `x-amz-meta-*` headers without the prefix.
    pub user: BTreeMap<String, String>,
    /// Additional checksums, e.g. `"CRC32" -> base64 value`.
    pub checksums: BTreeMap<String, String>,
    /// The object's tag set (`x-amz-tagging`, PutObjectTagging). Changing it changes neither the
    /// ETag, Last-Modified nor the generation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The version's Object Lock retention (x-amz-object-lock-*, PutObjectRetention), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// The version's Object Lock legal hold (PutObjectLegalHold): while on, the version cannot be deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// The multipart upload whose completion made this version, if one did: a repeated CompleteMultipartUpload of
    /// that upload (a client retrying after a lost answer) succeeds again with this version, as S3's does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_upload: Option<String>,
    /// The canonical id of the version's owner, in a bucket whose ACLs count ([`ObjectOwnership`]); `None`: the
    /// bucket owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The version's access control list, every grant as given (an ACL on the write, PutObjectAcl); `None`: the
    /// default, the owner's full control. It counts only while the bucket's ACLs do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
    /// For a version made by a multipart upload with a checksum algorithm: each part's number and checksum, in the
    /// order of `ObjectRecord::parts` (what GetObjectAttributes lists). `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_checksums: Option<PartChecksums>,
}

/// The parts of a multipart object uploaded with a checksum algorithm, as S3 lists them (GetObjectAttributes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartChecksums {
    /// `CRC32`, `CRC32C`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// `(part number, base64 checksum)`, one per stored part, in order.
    pub parts: Vec<(u32, String)>,
}

impl ObjectMeta {
    /// Why this version may not be deleted now (`None`: it may): a legal hold, a compliance retention, or a
    /// governance retention unless `bypass_governance`. Retention ends at `until_ms`.
    pub fn lock_reason(&self, now_ms: i64, bypass_governance: bool) -> Option<&'static str> {
        if self.legal_hold {
            return Some("a legal hold is on");
        }
        match &self.retention {
            Some(r) if r.until_ms > now_ms => match r.mode {
                RetentionMode::Compliance => Some("it is under compliance retention"),
                RetentionMode::Governance if !bypass_governance => {
                    Some("it is under governance retention")
                }
                RetentionMode::Governance => None,
            },
            _ => None,
        }
    }
}

/// S3 Object Lock retention modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    /// Users with `x-amz-bypass-governance-retention` may shorten, remove or delete through it.
    Governance,
    /// Nobody may shorten or remove it, or delete the version, until it ends.
    Compliance,
}

/// One version's retention: protected until `until_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub until_ms: i64,
}

/// A bucket's Object Lock configuration (a bucket created with Object Lock enabled has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// Applied to every new version that names no retention of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention: a mode and a period in days or in years, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

impl DefaultRetention {
    /// The retention a version written at `now_ms` gets (a year is 365 days).
    pub fn from(&self, now_ms: i64) -> Retention {
        let days = i64::from(self.days.unwrap_or(0)) + 365 * i64::from(self.years.unwrap_or(0));
        Retention {
            mode: self.mode,
            until_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
        }
    }
}

/// The current version of an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Assigned by the catalog at every commit that changes the record (put, complete, replica swap);
    /// strictly increasing across the whole catalog.
    pub generation: u64,
    pub size: u64,
    /// Without quotes; `"hex"`, or `"hex-N"` for multipart.
    pub etag: String,
    pub last_modified_ms: i64,
    pub parts: Vec<PartRef>,
    /// Backend names that hold every part blob.
    pub replicas: Vec<String>,
    pub meta: ObjectMeta,
    /// The version's id in a bucket that has had versioning enabled; `None` is S3's `null` version (every object
    /// of an unversioned bucket, and what a write makes while versioning is suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: no content, no parts, no replicas (see [`crate::versions`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// The generation the version was created with: its place among the key's versions, which moves (new
    /// generations) do not change. `0` in records written before versioning existed.
    #[serde(default)]
    pub version_seq: u64,
    /// When a committed move last changed the replica set (the gateway's clock, `commit_move`'s `now_ms`); 0 if
    /// none has since the write. Minimum storage durations and a self-tiering class's idle clock count from
    /// the later of this and `last_modified_ms`. One time per record: with several replicas, one kept through
    /// a move restarts too (the planner then charges its early deletion for longer than a provider would).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved_ms: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// What planning reads of a stored version ([`crate::Catalog::scan_summaries`]): an [`ObjectRecord`] without its
/// parts, metadata and ids, decoded from the same stored value (the fields left out are skipped, not allocated).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ObjectSummary {
    pub generation: u64,
    pub size: u64,
    pub last_modified_ms: i64,
    pub replicas: Vec<String>,
    #[serde(default)]
    pub delete_marker: bool,
    #[serde(default)]
    pub moved_ms: i64,
}

impl From<ObjectRecord> for ObjectSummary {
    fn from(r: ObjectRecord) -> ObjectSummary {
        ObjectSummary {
            generation: r.generation,
            size: r.size,
            last_modified_ms: r.last_modified_ms,
            replicas: r.replicas,
            delete_marker: r.delete_marker,
            moved_ms: r.moved_ms,
        }
    }
}

impl ObjectRecord {
    /// When the current replicas were placed: the write, or the last committed move after it.
    pub fn placed_ms(&self) -> i64 {
        self.last_modified_ms.max(self.moved_ms)
    }

    /// The version id S3 shows: the id, or `null`.
    pub fn version_label(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }

    /// Every `(backend, blob)` this record references: each part on each replica.
    pub fn blob_locations(&self) -> BTreeSet<(String, String)> {
        locations(self.parts.iter().map(|p| p.blob.as_str()), &self.replicas)
    }
}

/// What the gateway hands in to commit a new object version (the generation is assigned by the
/// catalog).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewObject {
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub parts: Vec<PartRef>,
    pub replicas: Vec<String>,
    pub meta: ObjectMeta,
}

impl NewObject {
    pub(crate) fn into_record(self, generation: u64) -> ObjectRecord {
        ObjectRecord {
            generation,
            size: self.size,
            etag: self.etag,
            last_modified_ms: self.last_modified_ms,
            parts: self.parts,
            replicas: self.replicas,
            meta: self.meta,
            version_id: None,
            delete_marker: false,
            version_seq: generation,
            moved_ms: 0,
        }
    }
}

/// An open multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub meta: ObjectMeta,
    /// Backends that hold every uploaded part blob.
    pub replicas: Vec<String>,
    pub checksum_algorithm: Option<String>,
    /// With a checksum algorithm: whether the completed object's checksum is of the whole object (`FULL_OBJECT`, the
    /// CRCs only, combined from the parts') rather than a checksum of the parts' checksums (`COMPOSITE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_object_checksum: bool,
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub blob: String,
    pub size: u64,
    /// Hex MD5, without quotes.
    pub etag: String,
    pub blake3: String,
    pub last_modified_ms: i64,
    pub checksums: BTreeMap<String, String>,
}

/// A blob that no catalog record references any more; deleted by the gateway's reaper after a
/// grace period. `since_ms` is the catalog's wall-clock time when the blob became garbage.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GarbageBlob {
    pub backend: String,
    pub blob: String,
    pub since_ms: i64,
}

/// What an access did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessKind {
    Get,
    Head,
    Put,
    Delete,
    List,
    /// The object was the source of a copy.
    Copy,
}

impl AccessKind {
    /// Reads add heat and count in [`AccessStats::reads`].
    pub fn is_read(self) -> bool {
        matches!(self, AccessKind::Get | AccessKind::Head | AccessKind::Copy)
    }

    /// Writes count in [`AccessStats::writes`] and leave heat alone.
    pub fn is_write(self) -> bool {
        matches!(self, AccessKind::Put)
    }
}

/// One access, as recorded by the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEvent {
    pub bucket: String,
    pub key: String,
    pub kind: AccessKind,
    pub bytes: u64,
    pub at_ms: i64,
}

/// Per-object counters and heat.
///
/// Heat decays exponentially: `heat(t) = heat * 2^(-(t - heat_at_ms) / half_life_ms)`. Each read
/// (Get, Head, Copy source) adds 1.0 at its event time. A Put of a new version keeps the stats (the
/// object's key is the unit of heat) and counts in `writes`. Deleting the object drops its stats.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessStats {
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub first_access_ms: i64,
    pub last_access_ms: i64,
    /// Heat as of `heat_at_ms`.
    pub heat: f64,
    pub heat_at_ms: i64,
    /// When the latest read happened (`None`: never read, or stats older than this field). The planner
    /// knows an object's idle time from it once its reads have left the access log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_ms: Option<i64>,
    /// How long the object was idle before the session of reads that `last_read_ms` belongs to: the time from
    /// the previous session's last read to this session's first (`None`: one session so far, or stats older
    /// than this field). Reads closer together than [`SESSION_GAP_MS`] are one session. A periodic job's
    /// object shows its period here, and the planner measures from these how the next interval follows the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_gap_ms: Option<i64>,
    /// The idle interval before that one (`None`: fewer than three sessions so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_gap_ms: Option<i64>,
}

/// Reads closer together than this are one session of use (a job's run, a day of browsing): see
/// [`AccessStats::last_gap_ms`].
pub const SESSION_GAP_MS: i64 = 24 * 3_600_000;

impl AccessStats {
    /// The heat decayed to `now_ms`. A `now_ms` before `heat_at_ms` returns the stored heat (time
    /// never runs backwards for heat), and a non-positive `half_life_ms` means no decay.
    pub fn heat_at(&self, now_ms: i64, half_life_ms: i64) -> f64 {
        decay(
            self.heat,
            now_ms.saturating_sub(self.heat_at_ms),
            half_life_ms,
        )
    }

    /// Fresh stats for an object first seen at `at_ms`.
    pub(crate) fn new_at(at_ms: i64) -> AccessStats {
        AccessStats {
            first_access_ms: at_ms,
            last_access_ms: at_ms,
            heat_at_ms: at_ms,
            ..AccessStats::default()
        }
    }

    /// Applies one event that concerns this object. Events may arrive out of order: a read older
    /// than `heat_at_ms` contributes its already-decayed 1.0 instead of moving `heat_at_ms` back.
    pub(crate) fn apply(&mut self, kind: AccessKind, bytes: u64, at_ms: i64, half_life_ms: i64) {
        if !kind.is_read() && !kind.is_write() {
            return;
        }
        self.first_access_ms = self.first_access_ms.min(at_ms);
        self.last_access_ms = self.last_access_ms.max(at_ms);
        if kind.is_write() {
            self.writes = self.writes.saturating_add(1);
            return;
        }
        self.reads = self.reads.saturating_add(1);
        self.bytes_read = self.bytes_read.saturating_add(bytes);
        match self.last_read_ms {
            Some(last) if at_ms >= last => {
                if at_ms - last >= SESSION_GAP_MS {
                    self.prev_gap_ms = self.last_gap_ms;
                    self.last_gap_ms = Some(at_ms - last);
                }
                self.last_read_ms = Some(at_ms);
            }
            // A late event older than the latest read leaves the intervals as they are.
            Some(_) => {}
            None => self.last_read_ms = Some(at_ms),
        }
        if at_ms >= self.heat_at_ms {
            self.heat = self.heat_at(at_ms, half_life_ms) + 1.0;
            self.heat_at_ms = at_ms;
        } else {
            self.heat += decay(1.0, self.heat_at_ms - at_ms, half_life_ms);
        }
    }
}

/// `value * 2^(-elapsed/half_life)`, with no decay for non-positive `elapsed` or `half_life_ms`.
fn decay(value: f64, elapsed_ms: i64, half_life_ms: i64) -> f64 {
    if elapsed_ms <= 0 || half_life_ms <= 0 {
        return value;
    }
    value * (-(elapsed_ms as f64) / half_life_ms as f64).exp2()
}

/// One gateway node of a cluster, as its last heartbeat described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeRecord {
    /// The node's id (stable across its restarts).
    pub node: String,
    /// When the node started, ms since the Unix epoch (the node's clock).
    pub started_ms: i64,
    /// When the catalog received the last heartbeat, ms since the Unix epoch (the catalog's clock: one clock
    /// for every node, so ages compare).
    pub heartbeat_ms: i64,
    /// Where the node serves S3.
    #[serde(default)]
    pub s3_addr: String,
    /// Strata's version on the node.
    #[serde(default)]
    pub version: String,
    /// Access events the node has queued but not yet written to the catalog (its recorder's lag).
    #[serde(default)]
    pub queued_access_events: u64,
    /// Where the node writes new objects, as the last plan it applied (or adopted from the leader) advised;
    /// `None` while it follows the prior of a store no plan has measured. Followers adopt the leader's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_objects: Option<NewObjectsAdvice>,
    /// The node's wall clock (ms) when it took `oldest_read_ms`: every read it started before then and had not
    /// finished is counted there. 0 in records of builds that did not report reads.
    #[serde(default)]
    pub reads_as_of_ms: i64,
    /// When the oldest read the node was streaming at `reads_as_of_ms` started (the node's wall clock); `None`:
    /// none was. What lets the leader's reaper delete overwritten blobs no other node may still be reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_read_ms: Option<i64>,
}

/// A plan's advice on where new objects go (`planner::initial::NewObjectAdvice::target`, which the plan carries
/// with its measurements): objects of at least `min_bytes` are written to the self-tiering backend `backend` in
/// place of the first initial one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewObjectsAdvice {
    /// The self-tiering backend the advice is for; `None`: none is configured or usable.
    pub backend: Option<String>,
    /// From which size; `None`: no size pays, every new object goes to the initial backends.
    pub min_bytes: Option<u64>,
}

/// Who holds a named lease, until when (the catalog's clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaseRecord {
    pub name: String,
    pub holder: String,
    pub expires_ms: i64,
}

/// One page of [`crate::Catalog::list_objects`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, when truncated; pass it back as `after`.
    pub next_marker: Option<String>,
}

/// What must hold of the current version of a key for a write to commit: S3's conditional writes
/// (`If-None-Match: *`, `If-Match` on PutObject and CompleteMultipartUpload). Checked inside the commit's
/// transaction, so two racing conditional writers cannot both win.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WriteCondition {
    /// No condition: the write replaces whatever is there.
    #[default]
    Always,
    /// `If-None-Match: *`: there must be no current version.
    Absent,
    /// `If-Match: *`: there must be a current version.
    Present,
    /// `If-Match: "etag"`: there must be a current version with this ETag (unquoted).
    ETagIs(String),
    /// `If-None-Match: "etag"`: there must be no current version with this ETag (unquoted).
    ETagIsNot(String),
}

impl WriteCondition {
    /// `Ok` when the condition holds for `current`; [`crate::CatalogError::NoSuchKey`] when it needs a current
    /// version and there is none (S3 answers `If-Match` on a missing key with 404), else
    /// [`crate::CatalogError::PreconditionFailed`].
    pub fn check(
        &self,
        bucket: &str,
        key: &str,
        current: Option<&ObjectRecord>,
    ) -> crate::Result<()> {
        let held = match (self, current) {
            (WriteCondition::Always, _) => true,
            (WriteCondition::Absent, found) => found.is_none(),
            (WriteCondition::ETagIsNot(etag), found) => found.is_none_or(|r| r.etag != *etag),
            (WriteCondition::Present | WriteCondition::ETagIs(_), None) => {
                return Err(crate::CatalogError::NoSuchKey {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                });
            }
            (WriteCondition::Present, Some(_)) => true,
            (WriteCondition::ETagIs(etag), Some(rec)) => rec.etag == *etag,
        };
        if held {
            Ok(())
        } else {
            Err(crate::CatalogError::PreconditionFailed {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
        }
    }
}

/// What [`crate::Catalog::put_object`] and [`crate::Catalog::complete_upload`] committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    pub generation: u64,
    /// The version this commit replaced, if any. Its blobs (minus any the new version reuses) are
    /// already in the garbage table.
    pub replaced: Option<ObjectRecord>,
    /// The new version's id (`None`: the `null` version).
    pub version_id: Option<String>,
    /// The bucket's versioning state the commit ran under.
    pub versioning: Versioning,
}

impl PutOutcome {
    /// What S3 answers in `x-amz-version-id`: the new version's label once the bucket has had versioning
    /// enabled, nothing in an unversioned bucket.
    pub fn version_header(&self) -> Option<String> {
        match (&self.version_id, self.versioning) {
            (Some(id), _) => Some(id.clone()),
            (None, Versioning::Unversioned) => None,
            (None, _) => Some("null".to_owned()),
        }
    }
}

/// What [`crate::Catalog::delete_version`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version removed for good (its blobs are already in the garbage table): the one named, the current
    /// version of an unversioned bucket, or the `null` version a suspended bucket's delete replaced.
    pub removed: Option<ObjectRecord>,
    /// The delete marker this delete added (a delete without a version id in a versioned bucket).
    pub marker: Option<ObjectRecord>,
}

/// One version (or delete marker) in [`VersionPage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub record: ObjectRecord,
    /// Whether this is the key's newest version (a delete marker may be).
    pub is_latest: bool,
}

/// One page of [`crate::Catalog::list_versions`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPage {
    /// Versions and delete markers by key, each key's newest first.
    pub versions: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// When truncated: the last entry's key, or the last common prefix.
    pub next_key_marker: Option<String>,
    /// When truncated and the page ended with a version: its version label.
    pub next_version_id_marker: Option<String>,
}

/// One page of [`crate::Catalog::list_uploads`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadPage {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// When truncated: the last upload's key, or the last common prefix.
    pub next_key_marker: Option<String>,
    /// When truncated and the page ended with an upload: that upload's id.
    pub next_upload_id_marker: Option<String>,
}

/// The `(backend, blob)` pairs for `blobs` stored on each of `replicas`.
pub(crate) fn locations<'a>(
    blobs: impl IntoIterator<Item = &'a str>,
    replicas: &[String],
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for blob in blobs {
        for backend in replicas {
            out.insert((backend.clone(), blob.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn heat_halves_every_half_life() {
        let mut s = AccessStats::new_at(1_000);
        s.apply(AccessKind::Get, 10, 1_000, HOUR);
        assert!((s.heat_at(1_000 + HOUR, HOUR) - 0.5).abs() < 1e-9);
        assert!((s.heat_at(1_000 + 2 * HOUR, HOUR) - 0.25).abs() < 1e-9);
        // Before heat_at_ms: no inflation.
        assert!((s.heat_at(0, HOUR) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn out_of_order_read_matches_in_order_result() {
        let mut in_order = AccessStats::new_at(0);
        in_order.apply(AccessKind::Get, 0, 0, HOUR);
        in_order.apply(AccessKind::Get, 0, HOUR, HOUR);

        let mut reversed = AccessStats::new_at(HOUR);
        reversed.apply(AccessKind::Get, 0, HOUR, HOUR);
        reversed.apply(AccessKind::Get, 0, 0, HOUR);

        let t = 3 * HOUR;
        assert!((in_order.heat_at(t, HOUR) - reversed.heat_at(t, HOUR)).abs() < 1e-9);
        assert_eq!(reversed.first_access_ms, 0);
        assert_eq!(reversed.last_access_ms, HOUR);
    }

    #[test]
    fn writes_count_without_heat_and_lists_are_ignored() {
        let mut s = AccessStats::new_at(5);
        s.apply(AccessKind::Put, 100, 5, HOUR);
        s.apply(AccessKind::List, 0, 9, HOUR);
        s.apply(AccessKind::Delete, 0, 9, HOUR);
        assert_eq!((s.writes, s.reads, s.bytes_read), (1, 0, 0));
        assert_eq!(s.heat, 0.0);
        assert_eq!(s.last_access_ms, 5);
    }
}
