//! [`PgCatalog`]: the catalog in PostgreSQL, shared by every gateway node of a cluster.
//!
//! # How it keeps the [`Catalog`] contracts
//!
//! * Every mutation runs in one `SERIALIZABLE` transaction, retried from the start when PostgreSQL reports a
//!   serialization failure or a deadlock (SQLSTATE 40001, 40P01) or a racing insert of the same row (23505):
//!   the outcome is that of some serial order, as with redb's single writer. A body may therefore run more than
//!   once; it only touches the database and its own locals.
//! * Multi-statement reads (listings, counts after a bucket check) run in one `REPEATABLE READ READ ONLY`
//!   transaction, so they see one snapshot.
//! * Commits are durable when they return (`synchronous_commit` as the server has it, `on` by default), except
//!   [`Catalog::record_accesses`], which commits with `synchronous_commit = off`.
//! * Object generations, move ids and access-log sequence numbers come from sequences: unique and increasing
//!   across nodes.
//! * Keys are `bytea`, so every order is byte order (S3's listing order), whatever the database's collation.
//!   Values are the same JSON as in redb, stored as `bytea` and decoded with the same codecs.
//!
//! # Connections
//!
//! The API is synchronous (callers use `spawn_blocking`, as for redb). Statements run on `tokio-postgres`
//! clients whose connections are driven by a small runtime owned by the catalog; the caller's thread waits
//! with `futures::executor::block_on`, so a call never needs (nor disturbs) the caller's own runtime. At most
//! [`MAX_CONNECTIONS`] connections are open; a broken one is dropped and replaced on the next call.
//!
//! # Schema
//!
//! Versioned migrations (`MIGRATIONS`) run at connect under an advisory lock, so nodes starting together
//! migrate once; a database migrated by a newer build is refused.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use futures::executor::block_on;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, IsolationLevel, NoTls, Row, Statement};

use crate::error::{CatalogError, Result, corrupt};
use crate::listing::rollup;
use crate::moves::decode_move;
use crate::schema::{self, byte_successor};
use crate::versions::{self, KeyRows, KeyRowsMut, RowScan};
use crate::{
    AccessEvent, AccessStats, BucketRecord, Catalog, CatalogConfig, GarbageBlob, LeaseRecord,
    ListPage, MOVE_HISTORY, MoveState, MoveTask, NewMove, NewObject, NodeRecord, ObjectMeta,
    ObjectRecord, PartRecord, PutOutcome, UploadPage, UploadRecord, WriteCondition,
};
use crate::{DeleteOutcome, VersionPage};

/// Connections one catalog opens at most.
pub const MAX_CONNECTIONS: usize = 16;

/// Attempts of a transaction that keeps conflicting before the conflict is reported.
const MAX_ATTEMPTS: u32 = 50;

/// Schema version this build writes; a database with a newer one is refused.
pub const PG_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `MIGRATIONS[i]` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE buckets (name bytea PRIMARY KEY, record bytea NOT NULL);
    CREATE TABLE objects (
        bucket bytea NOT NULL, key bytea NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (bucket, key));
    CREATE TABLE access_stats (
        bucket bytea NOT NULL, key bytea NOT NULL, stats bytea NOT NULL,
        PRIMARY KEY (bucket, key));
    CREATE TABLE uploads (
        upload_id bytea PRIMARY KEY, bucket bytea NOT NULL, key bytea NOT NULL,
        initiated_ms bigint NOT NULL, record bytea NOT NULL);
    CREATE INDEX uploads_in_listing_order ON uploads (bucket, key, initiated_ms, upload_id);
    CREATE TABLE upload_parts (
        upload_id bytea NOT NULL, part_number bigint NOT NULL, record bytea NOT NULL,
        PRIMARY KEY (upload_id, part_number));
    CREATE TABLE garbage (
        since_ms bigint NOT NULL, backend bytea NOT NULL, blob bytea NOT NULL,
        PRIMARY KEY (since_ms, backend, blob));
    CREATE INDEX garbage_by_location ON garbage (backend, blob);
    CREATE TABLE access_log (
        at_ms bigint NOT NULL, seq bigint NOT NULL, event bytea NOT NULL,
        PRIMARY KEY (at_ms, seq));
    CREATE TABLE moves (id bigint PRIMARY KEY, task bytea NOT NULL);
    CREATE SEQUENCE object_generations;
    CREATE SEQUENCE move_ids;
    CREATE SEQUENCE access_seq;
",
    r"
    CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_ms bigint NOT NULL);
    CREATE TABLE nodes (node text PRIMARY KEY, record bytea NOT NULL);
",
    r"
    CREATE TABLE secrets (name text PRIMARY KEY, value bytea NOT NULL);
",
];

/// The database's clock in ms since the Unix epoch (`clock_timestamp`: advances within a transaction).
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Key of the advisory lock held while migrating (any constant shared by every node).
const MIGRATION_LOCK: i64 = 0x5354_5241_5441;

/// The catalog in PostgreSQL. See the module documentation.
pub struct PgCatalog {
    config: CatalogConfig,
    pg: tokio_postgres::Config,
    /// Drives the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Mutex<Pool>,
    returned: Condvar,
    /// Access batches recorded, to pace the size trim of the access log.
    access_batches: AtomicU64,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

impl Drop for PgCatalog {
    fn drop(&mut self) {
        // A runtime may not be dropped inside another one's async context; this never blocks.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A PostgreSQL error as a catalog error, naming the operation.
fn pg_error(op: &str, e: &tokio_postgres::Error) -> CatalogError {
    // `Display` of a server error is only its severity; the source has the message.
    let detail = e
        .as_db_error()
        .map(|d| format!("{}: {}", d.code().code(), d.message()))
        .unwrap_or_else(|| e.to_string());
    CatalogError::Storage(format!("{op}: postgres: {detail}"))
}

/// Whether retrying the whole transaction may succeed.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// One pooled connection and the statements prepared on it (prepared once per connection, by SQL text).
struct Conn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
}

/// One transaction (or, for a single-statement read, one statement), with synchronous statements.
struct Tx<'a> {
    conn: &'a Conn,
    op: &'static str,
    /// Set when a statement failed in a way a retry may fix.
    conflict: std::cell::Cell<bool>,
}

impl Tx<'_> {
    fn check<T>(&self, r: std::result::Result<T, tokio_postgres::Error>) -> Result<T> {
        r.map_err(|e| {
            if is_conflict(&e) {
                self.conflict.set(true);
            }
            pg_error(self.op, &e)
        })
    }

    /// The prepared statement for `sql` (prepared on first use on this connection).
    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.conn.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.check(block_on(self.conn.client.prepare(sql)))?;
        self.conn
            .statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        self.check(block_on(self.conn.client.query(&statement, params)))
    }

    /// Up to `limit` rows `(bucket, key, column)` of `table` in key order, after `after`.
    fn key_page(
        &self,
        table: &str,
        column: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Row>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match after {
            Some((b, k)) => self.query(
                &format!(
                    "SELECT bucket, key, {column} FROM {table} WHERE (bucket, key) > ($1, $2)
                     ORDER BY bucket, key LIMIT $3"
                ),
                &[&b.as_bytes(), &k.as_bytes(), &limit],
            ),
            None => self.query(
                &format!("SELECT bucket, key, {column} FROM {table} ORDER BY bucket, key LIMIT $1"),
                &[&limit],
            ),
        }
    }

    fn opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        self.check(block_on(self.conn.client.query_opt(&statement, params)))
    }

    fn one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let statement = self.statement(sql)?;
        self.check(block_on(self.conn.client.query_one(&statement, params)))
    }

    fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.statement(sql)?;
        self.check(block_on(self.conn.client.execute(&statement, params)))
    }

    /// Unprepared statements (DDL, transaction control), without parameters.
    fn batch(&self, sql: &str) -> Result<()> {
        self.check(block_on(self.conn.client.batch_execute(sql)))
    }

    /// Column `i` of `row`, or a storage error naming the operation.
    fn col<'r, T: tokio_postgres::types::FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T> {
        row.try_get(i)
            .map_err(|e| CatalogError::Storage(format!("{}: postgres: column {i}: {e}", self.op)))
    }

    fn next_value(&self, sequence: &str) -> Result<u64> {
        let row = self.one(&format!("SELECT nextval('{sequence}')"), &[])?;
        let v: i64 = self.col(&row, 0)?;
        u64::try_from(v).map_err(|_| corrupt(sequence, "nextval", "negative sequence value"))
    }

    // ---- shared pieces of the calls ----

    fn require_bucket(&self, bucket: &str) -> Result<()> {
        schema::check_bucket_name(bucket)?;
        match self.opt(
            "SELECT 1 FROM buckets WHERE name = $1",
            &[&bucket.as_bytes()],
        )? {
            Some(_) => Ok(()),
            None => Err(CatalogError::NoSuchBucket(bucket.to_owned())),
        }
    }

    fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        let row = self.opt(
            "SELECT record FROM objects WHERE bucket = $1 AND key = $2",
            &[&bucket.as_bytes(), &key.as_bytes()],
        )?;
        match row {
            Some(row) => decode_object(bucket, key, self.col(&row, 0)?).map(Some),
            None => Ok(None),
        }
    }

    fn put_record(&self, bucket: &str, key: &str, record: &ObjectRecord) -> Result<()> {
        let value = schema::encode(self.op, record)?;
        self.exec(
            "INSERT INTO objects (bucket, key, record) VALUES ($1, $2, $3)
             ON CONFLICT (bucket, key) DO UPDATE SET record = excluded.record",
            &[&bucket.as_bytes(), &key.as_bytes(), &value],
        )?;
        Ok(())
    }

    fn insert_garbage(&self, locations: &BTreeSet<(String, String)>) -> Result<Vec<GarbageBlob>> {
        let since_ms = schema::now_ms();
        let mut out = Vec::with_capacity(locations.len());
        for (backend, blob) in locations {
            self.exec(
                "INSERT INTO garbage (since_ms, backend, blob) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&since_ms, &backend.as_bytes(), &blob.as_bytes()],
            )?;
            out.push(GarbageBlob {
                backend: backend.clone(),
                blob: blob.clone(),
                since_ms,
            });
        }
        Ok(out)
    }

    fn pending_in(
        &self,
        locations: &BTreeSet<(String, String)>,
    ) -> Result<BTreeSet<(String, String)>> {
        let mut out = BTreeSet::new();
        for (backend, blob) in locations {
            if self
                .opt(
                    "SELECT 1 FROM garbage WHERE backend = $1 AND blob = $2 LIMIT 1",
                    &[&backend.as_bytes(), &blob.as_bytes()],
                )?
                .is_some()
            {
                out.insert((backend.clone(), blob.clone()));
            }
        }
        Ok(out)
    }

    /// The bucket's record; [`CatalogError::NoSuchBucket`] if it does not exist.
    fn bucket_record(&self, bucket: &str) -> Result<BucketRecord> {
        schema::check_bucket_name(bucket)?;
        let row = self
            .opt(
                "SELECT record FROM buckets WHERE name = $1",
                &[&bucket.as_bytes()],
            )?
            .ok_or_else(|| CatalogError::NoSuchBucket(bucket.to_owned()))?;
        schema::decode(
            schema::BUCKETS_NAME,
            || bucket.to_owned(),
            self.col(&row, 0)?,
        )
    }

    /// `put_object`'s transaction (also the end of `complete_upload`).
    fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
        released: BTreeSet<(String, String)>,
        cond: &WriteCondition,
    ) -> Result<PutOutcome> {
        let record = self.bucket_record(bucket)?;
        let mut rows = PgRows { tx: self, bucket };
        versions::commit(&mut rows, &record, key, obj, released, cond)
    }

    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        match self.opt(
            "SELECT record FROM uploads WHERE upload_id = $1",
            &[&upload_id.as_bytes()],
        )? {
            Some(row) => crate::uploads::decode_upload(upload_id, self.col(&row, 0)?).map(Some),
            None => Ok(None),
        }
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        let rows = self.query(
            "SELECT part_number, record FROM upload_parts WHERE upload_id = $1 ORDER BY part_number",
            &[&upload_id.as_bytes()],
        )?;
        rows.iter()
            .map(|row| {
                let number: i64 = self.col(row, 0)?;
                schema::decode(
                    schema::PARTS_NAME,
                    || format!("({upload_id}, {number})"),
                    self.col(row, 1)?,
                )
            })
            .collect()
    }

    /// Removes an upload and its parts; what was removed, or `None`.
    fn remove_upload(&self, upload_id: &str) -> Result<Option<(UploadRecord, Vec<PartRecord>)>> {
        let Some(upload) = self.upload(upload_id)? else {
            return Ok(None);
        };
        let parts = self.parts(upload_id)?;
        self.exec(
            "DELETE FROM upload_parts WHERE upload_id = $1",
            &[&upload_id.as_bytes()],
        )?;
        self.exec(
            "DELETE FROM uploads WHERE upload_id = $1",
            &[&upload_id.as_bytes()],
        )?;
        Ok(Some((upload, parts)))
    }

    fn move_task(&self, id: u64) -> Result<Option<MoveTask>> {
        match self.opt("SELECT task FROM moves WHERE id = $1", &[&to_i64(id)?])? {
            Some(row) => decode_move(id, self.col(&row, 0)?).map(Some),
            None => Ok(None),
        }
    }

    fn save_move(&self, task: &MoveTask) -> Result<()> {
        let value = schema::encode(self.op, task)?;
        self.exec(
            "INSERT INTO moves (id, task) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET task = excluded.task",
            &[&to_i64(task.id)?, &value],
        )?;
        Ok(())
    }
}

/// One transaction's view of one bucket's `objects` rows (see [`versions`]).
struct PgRows<'t, 'c> {
    tx: &'t Tx<'c>,
    bucket: &'t str,
}

impl RowScan for PgRows<'_, '_> {
    fn rows_from(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.tx.query(
            "SELECT key, record FROM objects WHERE bucket = $1 AND key >= $2
             AND ($3::bytea IS NULL OR key < $3) ORDER BY key LIMIT $4",
            &[&self.bucket.as_bytes(), &start, &end, &limit],
        )?;
        rows.iter()
            .map(|row| {
                let key = text(schema::OBJECTS_NAME, self.tx.col(row, 0)?)?;
                let record = decode_object(self.bucket, &key, self.tx.col(row, 1)?)?;
                Ok((key, record))
            })
            .collect()
    }
}

impl KeyRows for PgRows<'_, '_> {
    fn get(&self, row: &str) -> Result<Option<ObjectRecord>> {
        self.tx.get_object(self.bucket, row)
    }
}

impl KeyRowsMut for PgRows<'_, '_> {
    fn put(&mut self, row: &str, record: &ObjectRecord) -> Result<()> {
        self.tx.put_record(self.bucket, row, record)
    }

    fn remove(&mut self, row: &str) -> Result<()> {
        self.tx.exec(
            "DELETE FROM objects WHERE bucket = $1 AND key = $2",
            &[&self.bucket.as_bytes(), &row.as_bytes()],
        )?;
        Ok(())
    }

    fn next_generation(&mut self) -> Result<u64> {
        self.tx.next_value("object_generations")
    }

    fn release(&mut self, locations: &BTreeSet<(String, String)>) -> Result<()> {
        self.tx.insert_garbage(locations)?;
        Ok(())
    }

    fn forget_stats(&mut self, key: &str) -> Result<()> {
        self.tx.exec(
            "DELETE FROM access_stats WHERE bucket = $1 AND key = $2",
            &[&self.bucket.as_bytes(), &key.as_bytes()],
        )?;
        Ok(())
    }
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| CatalogError::InvalidArgument(format!("{v} is out of range")))
}

fn decode_object(bucket: &str, key: &str, bytes: &[u8]) -> Result<ObjectRecord> {
    schema::decode(schema::OBJECTS_NAME, || format!("{bucket}/{key}"), bytes)
}

fn text(table: &str, bytes: &[u8]) -> Result<String> {
    schema::utf8(table, bytes, bytes)
}

impl PgCatalog {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`, any form
    /// `tokio-postgres` accepts) and brings its schema to this build's version.
    ///
    /// [`CatalogError::InvalidArgument`] for a bad URL or configuration; [`CatalogError::Storage`] when the
    /// server cannot be reached; [`CatalogError::Corrupt`] when a newer build migrated the database.
    pub fn connect(url: &str, config: CatalogConfig) -> Result<PgCatalog> {
        let catalog = PgCatalog::connect_unmigrated(url, config)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    fn connect_unmigrated(url: &str, config: CatalogConfig) -> Result<PgCatalog> {
        config.validate()?;
        // The parser's message never repeats the URL, so a password cannot leak into logs.
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| CatalogError::InvalidArgument(format!("invalid catalog URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strata-catalog-pg")
            .enable_all()
            .build()
            .map_err(|e| CatalogError::Storage(format!("connect: cannot start a runtime: {e}")))?;
        Ok(PgCatalog {
            config,
            pg,
            runtime: Some(runtime),
            pool: Mutex::new(Pool::default()),
            returned: Condvar::new(),
            access_batches: AtomicU64::new(0),
        })
    }

    /// [`PgCatalog::connect`], keeping every table in the schema `schema` (created if missing) instead of
    /// the user's default: several catalogs in one database, e.g. one per test. `schema` is lowercase ASCII
    /// letters, digits and `_`.
    pub fn connect_in_schema(url: &str, schema: &str, config: CatalogConfig) -> Result<PgCatalog> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(CatalogError::InvalidArgument(format!(
                "invalid catalog schema name {schema:?}: use lowercase letters, digits and _"
            )));
        }
        let plain = PgCatalog::connect_unmigrated(url, config)?;
        plain.transact("create schema", Some(IsolationLevel::ReadCommitted), |tx| {
            tx.batch(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        })?;
        drop(plain);
        let mut catalog = PgCatalog::connect_unmigrated(url, config)?;
        catalog.pg.options(format!("-c search_path={schema}"));
        catalog.migrate()?;
        Ok(catalog)
    }

    /// The schema version of the database (0 before the first migration).
    pub fn schema_version(&self) -> Result<i64> {
        self.transact(
            "schema_version",
            Some(IsolationLevel::ReadCommitted),
            |tx| {
                let exists = tx.one("SELECT to_regclass('strata_meta') IS NOT NULL", &[])?;
                if !tx.col::<bool>(&exists, 0)? {
                    return Ok(0);
                }
                let row = tx.opt(
                    "SELECT value FROM strata_meta WHERE name = 'schema_version'",
                    &[],
                )?;
                row.map_or(Ok(0), |row| tx.col(&row, 0))
            },
        )
    }

    fn migrate(&self) -> Result<()> {
        self.transact("migrate", Some(IsolationLevel::ReadCommitted), |tx| {
            tx.exec("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch(
                "CREATE TABLE IF NOT EXISTS strata_meta (name text PRIMARY KEY, value bigint NOT NULL)",
            )?;
            let row = tx.opt("SELECT value FROM strata_meta WHERE name = 'schema_version'", &[])?;
            let current: i64 = row.map_or(Ok(0), |row| tx.col(&row, 0))?;
            if current > PG_SCHEMA_VERSION {
                return Err(corrupt(
                    "strata_meta",
                    "schema_version",
                    format!(
                        "catalog schema version {current} is newer than supported {PG_SCHEMA_VERSION}"
                    ),
                ));
            }
            for (version, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                tx.batch(sql)?;
                tx.exec(
                    "INSERT INTO strata_meta (name, value) VALUES ('schema_version', $1)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&(version as i64 + 1)],
                )?;
            }
            Ok(())
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the catalog is dropped")
    }

    /// An idle connection, a new one, or (at [`MAX_CONNECTIONS`]) the next one returned.
    fn checkout(&self, op: &str) -> Result<Conn> {
        {
            let mut pool = lock(&self.pool);
            loop {
                if let Some(conn) = pool.idle.pop() {
                    if conn.client.is_closed() {
                        pool.open -= 1;
                        continue;
                    }
                    return Ok(conn);
                }
                if pool.open < MAX_CONNECTIONS {
                    pool.open += 1;
                    break;
                }
                pool = self
                    .returned
                    .wait(pool)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        let pg = self.pg.clone();
        let connecting = self.runtime().spawn(async move {
            let (client, connection) = pg.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing_free_log(&e);
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let connected = match block_on(connecting) {
            Ok(Ok(client)) => Ok(Conn {
                client,
                statements: RefCell::default(),
            }),
            Ok(Err(e)) => Err(pg_error(
                &format!("{op}: cannot connect to the catalog database"),
                &e,
            )),
            Err(e) => Err(CatalogError::Storage(format!("{op}: connect task: {e}"))),
        };
        if connected.is_err() {
            lock(&self.pool).open -= 1;
            self.returned.notify_one();
        }
        connected
    }

    /// Returns a connection to the pool; `broken` ones (closed, or in an unknown transaction state) are dropped.
    fn checkin(&self, conn: Conn, broken: bool) {
        let mut pool = lock(&self.pool);
        if broken || conn.client.is_closed() {
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Runs `body` in one transaction at `isolation` (none: one statement, autocommitted) and commits it,
    /// retrying from the start on a conflict (see the module documentation). Read-only at `RepeatableRead`.
    fn transact<T>(
        &self,
        op: &'static str,
        isolation: Option<IsolationLevel>,
        mut body: impl FnMut(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let conn = self.checkout(op)?;
            let (outcome, conflict, broken) = run_once(&conn, op, isolation, &mut body);
            self.checkin(conn, broken);
            match outcome {
                Err(_) if conflict && attempt < MAX_ATTEMPTS => {
                    // Back off a little, more with each attempt, so racing nodes spread out.
                    let jitter = u64::from(std::process::id() % 7 + attempt % 5);
                    std::thread::sleep(Duration::from_millis(
                        (u64::from(attempt) * 2 + jitter).min(100),
                    ));
                }
                other => return other,
            }
        }
    }

    fn write<T>(&self, op: &'static str, body: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transact(op, Some(IsolationLevel::Serializable), body)
    }

    /// A read of several statements, on one snapshot.
    fn read<T>(&self, op: &'static str, body: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transact(op, Some(IsolationLevel::RepeatableRead), body)
    }

    /// A read of one statement (a snapshot by itself): no transaction around it.
    fn read_one<T>(&self, op: &'static str, body: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transact(op, None, body)
    }
}

/// Connection errors surface on the next statement; nothing to do here but not to panic.
fn tracing_free_log(_e: &tokio_postgres::Error) {}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The pool holds plain values: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One attempt: the outcome, whether a retry may succeed, and whether the connection must be dropped (a
/// transaction whose end is unknown).
fn run_once<T>(
    conn: &Conn,
    op: &'static str,
    isolation: Option<IsolationLevel>,
    body: &mut impl FnMut(&Tx<'_>) -> Result<T>,
) -> (Result<T>, bool, bool) {
    let tx = Tx {
        conn,
        op,
        conflict: std::cell::Cell::new(false),
    };
    let Some(isolation) = isolation else {
        let outcome = body(&tx);
        return (outcome, tx.conflict.get(), false);
    };
    let begin = match isolation {
        IsolationLevel::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        IsolationLevel::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        _ => "BEGIN ISOLATION LEVEL READ COMMITTED",
    };
    if let Err(e) = tx.batch(begin) {
        return (Err(e), false, true);
    }
    match body(&tx) {
        Ok(value) => match tx.batch("COMMIT") {
            Ok(()) => (Ok(value), false, false),
            // A failed COMMIT ends the transaction (rolled back); a lost connection is dropped by `checkin`.
            Err(e) => (Err(e), tx.conflict.get(), false),
        },
        Err(e) => {
            let conflict = tx.conflict.get();
            let rolled_back = tx.batch("ROLLBACK").is_ok();
            (Err(e), conflict, !rolled_back)
        }
    }
}

/// A scan start in one bucket's key space.
struct Lower {
    key: Vec<u8>,
    inclusive: bool,
}

impl PgCatalog {
    /// The one delete transaction behind [`Catalog::delete_version`] and [`Catalog::delete_version_if`]
    /// (`expect_seq`: the version that must still be there).
    fn delete_checked(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        bypass_governance: bool,
        expect_seq: Option<u64>,
    ) -> Result<DeleteOutcome> {
        self.write("delete_version", |tx| {
            let versioning = tx.bucket_record(bucket)?.versioning;
            let mut rows = PgRows { tx, bucket };
            versions::delete(
                &mut rows,
                versioning,
                bucket,
                key,
                version,
                now_ms,
                bypass_governance,
                expect_seq,
            )
        })
    }
}

impl Catalog for PgCatalog {
    fn config(&self) -> &CatalogConfig {
        &self.config
    }

    fn create_bucket_record(&self, record: BucketRecord) -> Result<()> {
        let name = record.name.as_str();
        schema::check_bucket_name(name)?;
        let value = schema::encode("create_bucket", &record)?;
        self.write("create_bucket", |tx| {
            let inserted = tx.exec(
                "INSERT INTO buckets (name, record) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name.as_bytes(), &value],
            )?;
            if inserted == 0 {
                return Err(CatalogError::BucketExists(name.to_owned()));
            }
            Ok(())
        })
    }

    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.read_one("bucket", |tx| {
            match tx.opt(
                "SELECT record FROM buckets WHERE name = $1",
                &[&name.as_bytes()],
            )? {
                Some(row) => {
                    schema::decode(schema::BUCKETS_NAME, || name.to_owned(), tx.col(&row, 0)?)
                        .map(Some)
                }
                None => Ok(None),
            }
        })
    }

    fn update_bucket(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut BucketRecord),
    ) -> Result<BucketRecord> {
        schema::check_bucket_name(name)?;
        self.write("update_bucket", |tx| {
            let row = tx
                .opt(
                    "SELECT record FROM buckets WHERE name = $1",
                    &[&name.as_bytes()],
                )?
                .ok_or_else(|| CatalogError::NoSuchBucket(name.to_owned()))?;
            let mut record: BucketRecord =
                schema::decode(schema::BUCKETS_NAME, || name.to_owned(), tx.col(&row, 0)?)?;
            let (kept_name, kept_created) = (record.name.clone(), record.created_ms);
            change(&mut record);
            record.name = kept_name;
            record.created_ms = kept_created;
            let value = schema::encode(tx.op, &record)?;
            tx.exec(
                "UPDATE buckets SET record = $2 WHERE name = $1",
                &[&name.as_bytes(), &value],
            )?;
            Ok(record)
        })
    }

    fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.read_one("list_buckets", |tx| {
            let rows = tx.query("SELECT name, record FROM buckets ORDER BY name", &[])?;
            rows.iter()
                .map(|row| {
                    let name: &[u8] = tx.col(row, 0)?;
                    schema::decode(
                        schema::BUCKETS_NAME,
                        || schema::lossy(name),
                        tx.col(row, 1)?,
                    )
                })
                .collect()
        })
    }

    fn delete_bucket(&self, name: &str) -> Result<Vec<GarbageBlob>> {
        self.write("delete_bucket", |tx| {
            tx.require_bucket(name)?;
            let b = name.as_bytes();
            if tx
                .opt("SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1", &[&b])?
                .is_some()
            {
                return Err(CatalogError::BucketNotEmpty(name.to_owned()));
            }
            let ids = tx.query(
                "SELECT upload_id FROM uploads WHERE bucket = $1 ORDER BY key, initiated_ms, upload_id",
                &[&b],
            )?;
            let mut dead = BTreeSet::new();
            for row in &ids {
                let id = text(schema::UPLOADS_NAME, tx.col(row, 0)?)?;
                if let Some((upload, parts)) = tx.remove_upload(&id)? {
                    dead.extend(crate::records::locations(
                        parts.iter().map(|p| p.blob.as_str()),
                        &upload.replicas,
                    ));
                }
            }
            tx.exec("DELETE FROM access_stats WHERE bucket = $1", &[&b])?;
            tx.exec("DELETE FROM buckets WHERE name = $1", &[&b])?;
            tx.insert_garbage(&dead)
        })
    }

    fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        schema::check_bucket_name(bucket)?;
        self.read_one("get_object", |tx| tx.get_object(bucket, key))
    }

    fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> Result<PutOutcome> {
        self.write("put_object", |tx| {
            tx.commit_object(bucket, key, obj.clone(), BTreeSet::new(), cond)
        })
    }

    fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        change: &mut dyn FnMut(&mut ObjectMeta),
    ) -> Result<Option<ObjectRecord>> {
        self.write("update_object_meta", |tx| {
            tx.require_bucket(bucket)?;
            let Some(mut record) = tx.get_object(bucket, key)? else {
                return Ok(None);
            };
            change(&mut record.meta);
            tx.put_record(bucket, key, &record)?;
            Ok(Some(record))
        })
    }

    fn get_version(&self, bucket: &str, key: &str, version: &str) -> Result<Option<ObjectRecord>> {
        self.read("get_version", |tx| {
            tx.require_bucket(bucket)?;
            let rows = PgRows { tx, bucket };
            Ok(versions::find(&rows, key, version)?.map(|(_, record)| record))
        })
    }

    fn update_version_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        change: &mut dyn FnMut(&mut ObjectMeta),
    ) -> Result<Option<ObjectRecord>> {
        self.write("update_version_meta", |tx| {
            tx.require_bucket(bucket)?;
            let mut rows = PgRows { tx, bucket };
            versions::update_meta(&mut rows, key, version, change)
        })
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome> {
        self.delete_checked(bucket, key, version, now_ms, bypass_governance, None)
    }

    fn delete_version_if(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        version_seq: u64,
    ) -> Result<DeleteOutcome> {
        self.delete_checked(bucket, key, version, now_ms, false, Some(version_seq))
    }

    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
        max_keys: usize,
    ) -> Result<VersionPage> {
        self.read("list_versions", |tx| {
            tx.require_bucket(bucket)?;
            let rows = PgRows { tx, bucket };
            versions::list(
                &rows,
                prefix,
                delimiter,
                key_marker,
                version_id_marker,
                max_keys,
            )
        })
    }

    fn swap_replicas(
        &self,
        bucket: &str,
        key: &str,
        expected_generation: u64,
        replicas: Vec<String>,
    ) -> Result<bool> {
        let replicas = crate::objects::dedup_keep_order(replicas);
        if replicas.is_empty() {
            return Err(CatalogError::InvalidArgument(format!(
                "swap_replicas {bucket}/{key}: empty replica set"
            )));
        }
        schema::check_bucket_name(bucket)?;
        self.write("swap_replicas", |tx| {
            let Some(mut record) = tx.get_object(bucket, key)? else {
                return Ok(false);
            };
            if record.generation != expected_generation {
                return Ok(false);
            }
            let before = record.blob_locations();
            record.replicas = replicas.clone();
            let after = record.blob_locations();
            let dead: BTreeSet<_> = before.difference(&after).cloned().collect();
            record.generation = tx.next_value("object_generations")?;
            tx.put_record(bucket, key, &record)?;
            tx.insert_garbage(&dead)?;
            Ok(true)
        })
    }

    fn object_count(&self, bucket: &str) -> Result<u64> {
        self.read("object_count", |tx| {
            tx.require_bucket(bucket)?;
            let row = tx.one(
                "SELECT count(*) FROM objects WHERE bucket = $1",
                &[&bucket.as_bytes()],
            )?;
            Ok(tx.col::<i64>(&row, 0)? as u64)
        })
    }

    fn total_object_count(&self) -> Result<u64> {
        self.read_one("total_object_count", |tx| {
            let row = tx.one("SELECT count(*) FROM objects", &[])?;
            Ok(tx.col::<i64>(&row, 0)? as u64)
        })
    }

    fn scan_objects(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectRecord)>> {
        self.read("scan_objects", |tx| {
            let mut out = Vec::new();
            let mut cursor = after.map(|(b, k)| (b.to_owned(), k.to_owned()));
            // Delete markers are skipped, so a page of rows may fill less than a page of versions.
            while out.len() < limit {
                let want = limit - out.len();
                let rows = tx.key_page(
                    "objects",
                    "record",
                    cursor.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
                    want,
                )?;
                for row in &rows {
                    let bucket = text(schema::OBJECTS_NAME, tx.col(row, 0)?)?;
                    let key = text(schema::OBJECTS_NAME, tx.col(row, 1)?)?;
                    let record = decode_object(&bucket, &key, tx.col(row, 2)?)?;
                    cursor = Some((bucket.clone(), key.clone()));
                    if !record.delete_marker {
                        out.push((bucket, key, record));
                    }
                }
                if rows.len() < want {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage> {
        let delimiter = delimiter.filter(|d| !d.is_empty());
        self.read("list_objects", |tx| {
            tx.require_bucket(bucket)?;
            let mut page = ListPage::default();
            if max_keys == 0 {
                return Ok(page);
            }
            let end = byte_successor(prefix.as_bytes());
            let mut lower = Lower {
                key: prefix.as_bytes().to_vec(),
                inclusive: true,
            };
            if let Some(marker) = after {
                let resume = match rollup(marker, prefix, delimiter) {
                    Some(common) => match byte_successor(common.as_bytes()) {
                        Some(key) => Lower {
                            key,
                            inclusive: true,
                        },
                        None => return Ok(page),
                    },
                    None => Lower {
                        key: marker.as_bytes().to_vec(),
                        inclusive: false,
                    },
                };
                if resume.key > lower.key || (resume.key == lower.key && !resume.inclusive) {
                    lower = resume;
                }
            }
            let mut returned = 0usize;
            let mut last: Option<String> = None;
            'scan: loop {
                if end
                    .as_deref()
                    .is_some_and(|end| lower.key.as_slice() >= end)
                {
                    break;
                }
                // Enough rows to fill the page and see whether one more exists.
                let want = i64::try_from(max_keys - returned + 1).unwrap_or(i64::MAX);
                let op = if lower.inclusive { ">=" } else { ">" };
                let end_bytes: Option<&[u8]> = end.as_deref();
                let rows = tx.query(
                    &format!(
                        "SELECT key, record FROM objects WHERE bucket = $1 AND key {op} $2
                         AND ($3::bytea IS NULL OR key < $3) AND position('\\x00'::bytea in key) = 0
                         ORDER BY key LIMIT $4"
                    ),
                    &[&bucket.as_bytes(), &lower.key, &end_bytes, &want],
                )?;
                let fetched = rows.len();
                let mut reseek = None;
                for row in &rows {
                    let key = text(schema::OBJECTS_NAME, tx.col(row, 0)?)?;
                    if returned == max_keys {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    returned += 1;
                    if let Some(common) = rollup(&key, prefix, delimiter) {
                        let common = common.to_owned();
                        reseek = byte_successor(common.as_bytes());
                        page.common_prefixes.push(common.clone());
                        last = Some(common);
                        if reseek.is_none() {
                            break 'scan;
                        }
                        break;
                    }
                    let record = decode_object(bucket, &key, tx.col(row, 1)?)?;
                    page.objects.push((key.clone(), record));
                    last = Some(key);
                }
                match reseek {
                    Some(key) => {
                        lower = Lower {
                            key,
                            inclusive: true,
                        }
                    }
                    None if fetched as i64 == want => {
                        // A full batch without a roll-up: go on after its last key.
                        let Some(key) = last.clone() else { break };
                        lower = Lower {
                            key: key.into_bytes(),
                            inclusive: false,
                        };
                    }
                    None => break,
                }
            }
            if page.is_truncated {
                page.next_marker = last;
            }
            Ok(page)
        })
    }

    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadPage> {
        let delimiter = delimiter.filter(|d| !d.is_empty());
        self.read("list_uploads", |tx| {
            tx.require_bucket(bucket)?;
            let mut page = UploadPage::default();
            if max_uploads == 0 {
                return Ok(page);
            }
            // Position (key, initiated_ms, upload id) and whether a row exactly there is included.
            let at_key = |key: Vec<u8>| (key, i64::MIN, Vec::new(), true);
            let mut start = at_key(prefix.as_bytes().to_vec());
            let mut skip_ids_up_to: Option<(&str, &str)> = None;
            if let Some(marker) = key_marker {
                let resume = match rollup(marker, prefix, delimiter) {
                    Some(common) => match byte_successor(common.as_bytes()) {
                        Some(next) => at_key(next),
                        None => return Ok(page),
                    },
                    None => {
                        let position = match upload_id_marker {
                            Some(id) => tx
                                .upload(id)?
                                .filter(|u| u.bucket == bucket && u.key == marker)
                                .map(|u| u.initiated_ms),
                            None => None,
                        };
                        match (upload_id_marker, position) {
                            (Some(id), Some(initiated_ms)) => (
                                marker.as_bytes().to_vec(),
                                initiated_ms,
                                id.as_bytes().to_vec(),
                                false,
                            ),
                            (Some(id), None) => {
                                skip_ids_up_to = Some((marker, id));
                                at_key(marker.as_bytes().to_vec())
                            }
                            (None, _) => {
                                let mut next = marker.as_bytes().to_vec();
                                next.push(0);
                                at_key(next)
                            }
                        }
                    }
                };
                if (&resume.0, resume.1, &resume.2) > (&start.0, start.1, &start.2) {
                    start = resume;
                }
            }
            let end = byte_successor(prefix.as_bytes());
            let mut returned = 0usize;
            let mut last: Option<(String, Option<String>)> = None;
            'scan: loop {
                let want = i64::try_from(max_uploads - returned + 1).unwrap_or(i64::MAX);
                let op = if start.3 { ">=" } else { ">" };
                let end_bytes: Option<&[u8]> = end.as_deref();
                let rows = tx.query(
                    &format!(
                        "SELECT key, upload_id, initiated_ms, record FROM uploads
                         WHERE bucket = $1 AND (key, initiated_ms, upload_id) {op} ($2, $3, $4)
                         AND ($5::bytea IS NULL OR key < $5)
                         ORDER BY key, initiated_ms, upload_id LIMIT $6"
                    ),
                    &[
                        &bucket.as_bytes(),
                        &start.0,
                        &start.1,
                        &start.2,
                        &end_bytes,
                        &want,
                    ],
                )?;
                let fetched = rows.len();
                let mut reseek = None;
                let mut position = None;
                for row in &rows {
                    let key = text(schema::UPLOADS_NAME, tx.col(row, 0)?)?;
                    let upload_id = text(schema::UPLOADS_NAME, tx.col(row, 1)?)?;
                    let initiated_ms: i64 = tx.col(row, 2)?;
                    position = Some((key.clone(), initiated_ms, upload_id.clone()));
                    if let Some((marker_key, marker_id)) = skip_ids_up_to
                        && key == marker_key
                        && upload_id.as_str() <= marker_id
                    {
                        continue;
                    }
                    if returned == max_uploads {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    returned += 1;
                    if let Some(common) = rollup(&key, prefix, delimiter) {
                        let common = common.to_owned();
                        reseek = byte_successor(common.as_bytes());
                        page.common_prefixes.push(common.clone());
                        last = Some((common, None));
                        if reseek.is_none() {
                            break 'scan;
                        }
                        break;
                    }
                    page.uploads
                        .push(crate::uploads::decode_upload(&upload_id, tx.col(row, 3)?)?);
                    last = Some((key, Some(upload_id)));
                }
                match (reseek, position) {
                    (Some(next), _) => start = at_key(next),
                    (None, Some((key, initiated_ms, id))) if fetched as i64 == want => {
                        start = (key.into_bytes(), initiated_ms, id.into_bytes(), false);
                    }
                    _ => break,
                }
            }
            if page.is_truncated
                && let Some((key, id)) = last
            {
                page.next_key_marker = Some(key);
                page.next_upload_id_marker = id;
            }
            Ok(page)
        })
    }

    fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        if upload.upload_id.is_empty() {
            return Err(CatalogError::InvalidArgument(
                "upload id is empty".to_owned(),
            ));
        }
        let value = schema::encode("create_upload", &upload)?;
        self.write("create_upload", |tx| {
            tx.require_bucket(&upload.bucket)?;
            let inserted = tx.exec(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, record)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &upload.upload_id.as_bytes(),
                    &upload.bucket.as_bytes(),
                    &upload.key.as_bytes(),
                    &upload.initiated_ms,
                    &value,
                ],
            )?;
            if inserted == 0 {
                return Err(CatalogError::InvalidArgument(format!(
                    "upload id already in use: {}",
                    upload.upload_id
                )));
            }
            Ok(())
        })
    }

    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.read_one("upload", |tx| tx.upload(upload_id))
    }

    fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<()> {
        let value = schema::encode("put_part", &part)?;
        let number = i64::from(part.part_number);
        self.write("put_part", |tx| {
            let upload = tx
                .upload(upload_id)?
                .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?;
            let old = tx.opt(
                "SELECT record FROM upload_parts WHERE upload_id = $1 AND part_number = $2",
                &[&upload_id.as_bytes(), &number],
            )?;
            let replaced: Option<PartRecord> = match old {
                Some(row) => Some(schema::decode(
                    schema::PARTS_NAME,
                    || format!("({upload_id}, {number})"),
                    tx.col(&row, 0)?,
                )?),
                None => None,
            };
            tx.exec(
                "INSERT INTO upload_parts (upload_id, part_number, record) VALUES ($1, $2, $3)
                 ON CONFLICT (upload_id, part_number) DO UPDATE SET record = excluded.record",
                &[&upload_id.as_bytes(), &number, &value],
            )?;
            if let Some(old) = replaced.filter(|old| old.blob != part.blob) {
                tx.insert_garbage(&crate::records::locations(
                    [old.blob.as_str()],
                    &upload.replicas,
                ))?;
            }
            Ok(())
        })
    }

    fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.read("list_parts", |tx| {
            if tx.upload(upload_id)?.is_none() {
                return Err(CatalogError::NoSuchUpload(upload_id.to_owned()));
            }
            tx.parts(upload_id)
        })
    }

    fn complete_upload_if(
        &self,
        upload_id: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> Result<PutOutcome> {
        self.write("complete_upload", |tx| {
            let (upload, parts) = tx
                .remove_upload(upload_id)?
                .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?;
            let released =
                crate::records::locations(parts.iter().map(|p| p.blob.as_str()), &upload.replicas);
            tx.commit_object(&upload.bucket, &upload.key, obj.clone(), released, cond)
        })
    }

    fn abort_upload(&self, upload_id: &str) -> Result<Vec<GarbageBlob>> {
        self.write("abort_upload", |tx| {
            let (upload, parts) = tx
                .remove_upload(upload_id)?
                .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?;
            tx.insert_garbage(&crate::records::locations(
                parts.iter().map(|p| p.blob.as_str()),
                &upload.replicas,
            ))
        })
    }

    fn garbage(&self, limit: usize) -> Result<Vec<GarbageBlob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_one("garbage", |tx| {
            let rows = tx.query(
                "SELECT since_ms, backend, blob FROM garbage ORDER BY since_ms, backend, blob LIMIT $1",
                &[&limit],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(GarbageBlob {
                        since_ms: tx.col(row, 0)?,
                        backend: text(schema::GARBAGE_NAME, tx.col(row, 1)?)?,
                        blob: text(schema::GARBAGE_NAME, tx.col(row, 2)?)?,
                    })
                })
                .collect()
        })
    }

    fn remove_garbage(&self, items: &[GarbageBlob]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.write("remove_garbage", |tx| {
            for item in items {
                tx.exec(
                    "DELETE FROM garbage WHERE since_ms = $1 AND backend = $2 AND blob = $3",
                    &[
                        &item.since_ms,
                        &item.backend.as_bytes(),
                        &item.blob.as_bytes(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn pending_garbage(
        &self,
        locations: &BTreeSet<(String, String)>,
    ) -> Result<BTreeSet<(String, String)>> {
        self.read("pending_garbage", |tx| tx.pending_in(locations))
    }

    fn referenced_blobs(&self) -> Result<HashSet<(String, String)>> {
        self.read("referenced_blobs", |tx| {
            let mut out = HashSet::new();
            for row in tx.query("SELECT bucket, key, record FROM objects", &[])? {
                let bucket: &[u8] = tx.col(&row, 0)?;
                let key: &[u8] = tx.col(&row, 1)?;
                let record: ObjectRecord = schema::decode(
                    schema::OBJECTS_NAME,
                    || format!("{}/{}", schema::lossy(bucket), schema::lossy(key)),
                    tx.col(&row, 2)?,
                )?;
                out.extend(record.blob_locations());
            }
            let mut replicas_by_upload: HashMap<String, Vec<String>> = HashMap::new();
            for row in tx.query("SELECT upload_id, record FROM uploads", &[])? {
                let id = text(schema::UPLOADS_NAME, tx.col(&row, 0)?)?;
                let upload = crate::uploads::decode_upload(&id, tx.col(&row, 1)?)?;
                replicas_by_upload.insert(id, upload.replicas);
            }
            for row in tx.query(
                "SELECT upload_id, part_number, record FROM upload_parts",
                &[],
            )? {
                let id = text(schema::PARTS_NAME, tx.col(&row, 0)?)?;
                let number: i64 = tx.col(&row, 1)?;
                let part: PartRecord = schema::decode(
                    schema::PARTS_NAME,
                    || format!("({id}, {number})"),
                    tx.col(&row, 2)?,
                )?;
                if let Some(replicas) = replicas_by_upload.get(&id) {
                    for backend in replicas {
                        out.insert((backend.clone(), part.blob.clone()));
                    }
                }
            }
            for row in tx.query("SELECT backend, blob FROM garbage", &[])? {
                out.insert((
                    text(schema::GARBAGE_NAME, tx.col(&row, 0)?)?,
                    text(schema::GARBAGE_NAME, tx.col(&row, 1)?)?,
                ));
            }
            Ok(out)
        })
    }

    fn create_moves(&self, moves: Vec<NewMove>, now_ms: i64) -> Result<Vec<MoveTask>> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        self.write("create_moves", |tx| {
            let mut out = Vec::with_capacity(moves.len());
            for m in &moves {
                let task = MoveTask {
                    id: tx.next_value("move_ids")?,
                    bucket: m.bucket.clone(),
                    key: m.key.clone(),
                    generation: m.generation,
                    from: m.from.clone(),
                    to: m.to.clone(),
                    bytes: m.bytes,
                    state: MoveState::Planned,
                    reason: None,
                    attempts: 0,
                    created_ms: now_ms,
                    updated_ms: now_ms,
                    released: Vec::new(),
                    plan_id: m.plan_id.clone(),
                };
                tx.save_move(&task)?;
                out.push(task);
            }
            let total = tx.col::<i64>(&tx.one("SELECT count(*) FROM moves", &[])?, 0)? as usize;
            if total > MOVE_HISTORY {
                let mut excess = total - MOVE_HISTORY;
                for row in tx.query("SELECT id, task FROM moves ORDER BY id", &[])? {
                    if excess == 0 {
                        break;
                    }
                    let id: i64 = tx.col(&row, 0)?;
                    if decode_move(id as u64, tx.col(&row, 1)?)?
                        .state
                        .is_terminal()
                    {
                        tx.exec("DELETE FROM moves WHERE id = $1", &[&id])?;
                        excess -= 1;
                    }
                }
            }
            Ok(out)
        })
    }

    fn move_task(&self, id: u64) -> Result<Option<MoveTask>> {
        self.read_one("move_task", |tx| tx.move_task(id))
    }

    fn moves(&self, limit: usize, active_only: bool) -> Result<Vec<MoveTask>> {
        self.read_one("moves", |tx| {
            let mut out = Vec::new();
            for row in tx.query("SELECT id, task FROM moves ORDER BY id DESC", &[])? {
                if out.len() >= limit {
                    break;
                }
                let id: i64 = tx.col(&row, 0)?;
                let task = decode_move(id as u64, tx.col(&row, 1)?)?;
                if !active_only || !task.state.is_terminal() {
                    out.push(task);
                }
            }
            Ok(out)
        })
    }

    fn set_move_state(
        &self,
        id: u64,
        state: MoveState,
        reason: Option<String>,
        now_ms: i64,
    ) -> Result<MoveTask> {
        self.write("set_move_state", |tx| {
            let mut task = tx
                .move_task(id)?
                .ok_or_else(|| CatalogError::InvalidArgument(format!("no move task {id}")))?;
            if !task.state.may_become(state) {
                return Err(CatalogError::InvalidArgument(format!(
                    "move {id}: {} cannot become {}",
                    task.state.as_str(),
                    state.as_str()
                )));
            }
            if state == MoveState::Copying {
                task.attempts += 1;
            }
            task.state = state;
            task.reason = reason.clone();
            task.updated_ms = now_ms;
            tx.save_move(&task)?;
            Ok(task)
        })
    }

    fn commit_move(&self, id: u64, now_ms: i64) -> Result<MoveTask> {
        self.write("commit_move", |tx| {
            let mut task = tx
                .move_task(id)?
                .ok_or_else(|| CatalogError::InvalidArgument(format!("no move task {id}")))?;
            if task.state != MoveState::Verified {
                return Err(CatalogError::InvalidArgument(format!(
                    "move {id} is {}, only a Verified move can commit",
                    task.state.as_str()
                )));
            }
            schema::check_bucket_name(&task.bucket)?;
            task.updated_ms = now_ms;
            match tx.get_object(&task.bucket, &task.key)? {
                Some(mut rec) if rec.generation == task.generation && rec.replicas == task.from => {
                    let before = rec.blob_locations();
                    rec.replicas = task.to.clone();
                    rec.moved_ms = now_ms;
                    let after = rec.blob_locations();
                    let new_locations: BTreeSet<_> = after.difference(&before).cloned().collect();
                    let doomed = tx.pending_in(&new_locations)?;
                    if !doomed.is_empty() {
                        task.state = MoveState::Aborted;
                        task.reason = Some(format!(
                            "destination blobs still wait for deletion: {doomed:?}"
                        ));
                        tx.save_move(&task)?;
                        return Ok(task);
                    }
                    let dead: BTreeSet<_> = before.difference(&after).cloned().collect();
                    rec.generation = tx.next_value("object_generations")?;
                    tx.put_record(&task.bucket, &task.key, &rec)?;
                    tx.insert_garbage(&dead)?;
                    task.released = dead.into_iter().collect();
                    task.state = MoveState::Committed;
                    task.reason = None;
                }
                Some(_) => {
                    task.state = MoveState::Aborted;
                    task.reason =
                        Some("object changed since the plan (overwritten or moved)".to_owned());
                }
                None => {
                    task.state = MoveState::Aborted;
                    task.reason = Some("object deleted since the plan".to_owned());
                }
            }
            tx.save_move(&task)?;
            Ok(task)
        })
    }

    fn record_accesses(&self, events: &[AccessEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let half_life = self.config.heat_half_life_ms;
        let retention = self.config.access_log_retention_ms;
        let max_entries = i64::try_from(self.config.access_log_max_entries).unwrap_or(i64::MAX);
        // Counting the log is linear in its size: trim it to its size bound on every batch only while that
        // bound is small, else on every 64th batch (the time bound is enforced on every batch).
        let batch = self.access_batches.fetch_add(1, Ordering::Relaxed);
        let trim_size = max_entries <= 100_000 || batch.is_multiple_of(64);
        let mut log_at = Vec::with_capacity(events.len());
        let mut log_values = Vec::with_capacity(events.len());
        for event in events {
            log_at.push(event.at_ms);
            log_values.push(schema::encode("record_accesses", event)?);
        }
        // The objects read or written, with the time of their first event in this batch (their stats start
        // there when they have none yet).
        let mut first_at: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for event in events {
            if (event.kind.is_read() || event.kind.is_write())
                && schema::check_bucket_name(&event.bucket).is_ok()
            {
                first_at
                    .entry((event.bucket.as_str(), event.key.as_str()))
                    .or_insert(event.at_ms);
            }
        }
        let buckets: Vec<&[u8]> = first_at.keys().map(|(b, _)| b.as_bytes()).collect();
        let keys: Vec<&[u8]> = first_at.keys().map(|(_, k)| k.as_bytes()).collect();
        // A handful of set-based statements per batch, whatever its size. Rows are created and locked in key
        // order, so two nodes recording at once do not deadlock; a racing first insert retries the batch.
        self.transact("record_accesses", Some(IsolationLevel::ReadCommitted), |tx| {
            tx.batch("SET LOCAL synchronous_commit = off")?;
            let existing = tx.query(
                "SELECT o.bucket, o.key FROM objects o
                 JOIN unnest($1::bytea[], $2::bytea[]) AS t(bucket, key)
                   ON o.bucket = t.bucket AND o.key = t.key
                 ORDER BY o.bucket, o.key",
                &[&buckets, &keys],
            )?;
            let mut live: Vec<(String, String)> = Vec::with_capacity(existing.len());
            for row in &existing {
                live.push((
                    text(schema::OBJECTS_NAME, tx.col(row, 0)?)?,
                    text(schema::OBJECTS_NAME, tx.col(row, 1)?)?,
                ));
            }
            if !live.is_empty() {
                let (lb, lk): (Vec<&[u8]>, Vec<&[u8]>) = live
                    .iter()
                    .map(|(b, k)| (b.as_bytes(), k.as_bytes()))
                    .unzip();
                let fresh = live
                    .iter()
                    .map(|(b, k)| {
                        let at = first_at
                            .get(&(b.as_str(), k.as_str()))
                            .copied()
                            .unwrap_or_default();
                        schema::encode(tx.op, &AccessStats::new_at(at))
                    })
                    .collect::<Result<Vec<Vec<u8>>>>()?;
                tx.exec(
                    "INSERT INTO access_stats (bucket, key, stats)
                     SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) ORDER BY 1, 2
                     ON CONFLICT DO NOTHING",
                    &[&lb, &lk, &fresh],
                )?;
                let rows = tx.query(
                    "SELECT s.bucket, s.key, s.stats FROM access_stats s
                     JOIN unnest($1::bytea[], $2::bytea[]) AS t(bucket, key)
                       ON s.bucket = t.bucket AND s.key = t.key
                     ORDER BY s.bucket, s.key FOR UPDATE OF s",
                    &[&lb, &lk],
                )?;
                let mut touched: BTreeMap<(String, String), AccessStats> = BTreeMap::new();
                for row in &rows {
                    let b = text(schema::STATS_NAME, tx.col(row, 0)?)?;
                    let k = text(schema::STATS_NAME, tx.col(row, 1)?)?;
                    let bytes: &[u8] = tx.col(row, 2)?;
                    let at = first_at
                        .get(&(b.as_str(), k.as_str()))
                        .copied()
                        .unwrap_or_default();
                    // Stats are advisory: a row that does not decode starts over rather than block recording.
                    let stats = serde_json::from_slice::<AccessStats>(bytes)
                        .unwrap_or_else(|_| AccessStats::new_at(at));
                    touched.insert((b, k), stats);
                }
                for event in events {
                    if let Some(entry) =
                        touched.get_mut(&(event.bucket.clone(), event.key.clone()))
                    {
                        entry.apply(event.kind, event.bytes, event.at_ms, half_life);
                    }
                }
                let mut ub = Vec::with_capacity(touched.len());
                let mut uk = Vec::with_capacity(touched.len());
                let mut uv = Vec::with_capacity(touched.len());
                for ((b, k), stats) in &touched {
                    ub.push(b.as_bytes());
                    uk.push(k.as_bytes());
                    uv.push(schema::encode(tx.op, stats)?);
                }
                tx.exec(
                    "UPDATE access_stats s SET stats = t.stats
                     FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS t(bucket, key, stats)
                     WHERE s.bucket = t.bucket AND s.key = t.key",
                    &[&ub, &uk, &uv],
                )?;
            }
            tx.exec(
                "INSERT INTO access_log (at_ms, seq, event)
                 SELECT at_ms, nextval('access_seq'), event
                 FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS t(at_ms, event, n) ORDER BY n",
                &[&log_at, &log_values],
            )?;
            tx.exec(
                "DELETE FROM access_log WHERE at_ms < (SELECT max(at_ms) FROM access_log) - $1",
                &[&retention],
            )?;
            if trim_size {
                tx.exec(
                    "DELETE FROM access_log WHERE (at_ms, seq) <= (
                        SELECT at_ms, seq FROM access_log ORDER BY at_ms DESC, seq DESC OFFSET $1 LIMIT 1)",
                    &[&max_entries],
                )?;
            }
            Ok(())
        })
    }

    fn stats(&self, bucket: &str, key: &str) -> Result<Option<AccessStats>> {
        schema::check_bucket_name(bucket)?;
        self.read_one("stats", |tx| {
            match tx.opt(
                "SELECT stats FROM access_stats WHERE bucket = $1 AND key = $2",
                &[&bucket.as_bytes(), &key.as_bytes()],
            )? {
                Some(row) => schema::decode(
                    schema::STATS_NAME,
                    || format!("{bucket}/{key}"),
                    tx.col(&row, 0)?,
                )
                .map(Some),
                None => Ok(None),
            }
        })
    }

    fn scan_stats(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, AccessStats)>> {
        self.read_one("scan_stats", |tx| {
            let rows = tx.key_page("access_stats", "stats", after, limit)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let bucket = text(schema::STATS_NAME, tx.col(row, 0)?)?;
                let key = text(schema::STATS_NAME, tx.col(row, 1)?)?;
                // Stats are advisory: a row that fails to decode is skipped (the next access replaces it).
                if let Ok(stats) = schema::decode(
                    schema::STATS_NAME,
                    || format!("{bucket}/{key}"),
                    tx.col(row, 2)?,
                ) {
                    out.push((bucket, key, stats));
                }
            }
            Ok(out)
        })
    }

    fn access_log_len(&self) -> Result<u64> {
        self.read_one("access_log_len", |tx| {
            Ok(tx.col::<i64>(&tx.one("SELECT count(*) FROM access_log", &[])?, 0)? as u64)
        })
    }

    fn access_log_since(&self, since_ms: i64, limit: usize) -> Result<Vec<AccessEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_one("access_log_since", |tx| {
            let rows = tx.query(
                "SELECT at_ms, seq, event FROM access_log WHERE at_ms >= $1 ORDER BY at_ms, seq LIMIT $2",
                &[&since_ms, &limit],
            )?;
            rows.iter()
                .map(|row| {
                    let at: i64 = tx.col(row, 0)?;
                    let seq: i64 = tx.col(row, 1)?;
                    schema::decode(
                        schema::ACCESS_LOG_NAME,
                        || format!("({at}, {seq})"),
                        tx.col(row, 2)?,
                    )
                })
                .collect()
        })
    }

    fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<LeaseRecord>> {
        self.write("acquire_lease", |tx| {
            // One statement: take a free or expired lease, or renew our own; the database's clock decides.
            let row = tx.opt(
                "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, {NOW} + $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                 WHERE leases.holder = excluded.holder OR leases.expires_ms <= {NOW}
                 RETURNING expires_ms"
                    .replace("{NOW}", NOW_MS)
                    .as_str(),
                &[&name, &holder, &ttl_ms],
            )?;
            match row {
                Some(row) => Ok(Some(LeaseRecord {
                    name: name.to_owned(),
                    holder: holder.to_owned(),
                    expires_ms: tx.col(&row, 0)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.write("release_lease", |tx| {
            tx.exec(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )?;
            Ok(())
        })
    }

    fn lease(&self, name: &str) -> Result<Option<LeaseRecord>> {
        self.read_one("lease", |tx| {
            match tx.opt(
                "SELECT holder, expires_ms FROM leases WHERE name = $1",
                &[&name],
            )? {
                Some(row) => Ok(Some(LeaseRecord {
                    name: name.to_owned(),
                    holder: tx.col(&row, 0)?,
                    expires_ms: tx.col(&row, 1)?,
                })),
                None => Ok(None),
            }
        })
    }

    fn heartbeat(&self, node: NodeRecord) -> Result<NodeRecord> {
        self.write("heartbeat", |tx| {
            let mut node = node.clone();
            node.heartbeat_ms = tx.col(&tx.one(&format!("SELECT {NOW_MS}"), &[])?, 0)?;
            let value = schema::encode(tx.op, &node)?;
            tx.exec(
                "INSERT INTO nodes (node, record) VALUES ($1, $2)
                 ON CONFLICT (node) DO UPDATE SET record = excluded.record",
                &[&node.node, &value],
            )?;
            Ok(node)
        })
    }

    fn nodes(&self) -> Result<(Vec<NodeRecord>, i64)> {
        self.read("nodes", |tx| {
            let now: i64 = tx.col(&tx.one(&format!("SELECT {NOW_MS}"), &[])?, 0)?;
            let rows = tx.query("SELECT node, record FROM nodes ORDER BY node", &[])?;
            let nodes = rows
                .iter()
                .map(|row| {
                    let id: String = tx.col(row, 0)?;
                    schema::decode(schema::NODES_NAME, || id, tx.col(row, 1)?)
                })
                .collect::<Result<Vec<NodeRecord>>>()?;
            Ok((nodes, now))
        })
    }

    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read_one("secret", |tx| {
            match tx.opt("SELECT value FROM secrets WHERE name = $1", &[&name])? {
                Some(row) => Ok(Some(tx.col::<Vec<u8>>(&row, 0)?)),
                None => Ok(None),
            }
        })
    }

    fn swap_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool> {
        self.write("swap_secret", |tx| {
            let current: Option<Vec<u8>> =
                match tx.opt("SELECT value FROM secrets WHERE name = $1", &[&name])? {
                    Some(row) => Some(tx.col(&row, 0)?),
                    None => None,
                };
            if current.as_deref() != expected {
                return Ok(false);
            }
            tx.exec(
                "INSERT INTO secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &value],
            )?;
            Ok(true)
        })
    }
}
