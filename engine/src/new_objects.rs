//! [`NewObjectPlacement`]: the backends a new object is written to.
//!
//! The configured initial backends (`[placement] initial`), or, for objects at least as large as the last applied
//! plan advised (`planner::Plan::new_objects`, [`planner::initial`]), the same set with the first self-tiering
//! backend (S3 Intelligent-Tiering) in place of the first one: written there, an object starts the class's idle
//! clock at its write instead of at a later copy. The advice changes with every applied plan; before the first,
//! it is the planner's for an empty store ([`planner::initial::prior_min_bytes`]).
//!
//! In a cluster only the leader plans: every node publishes the advice it follows in its heartbeat
//! ([`catalog::NodeRecord::new_objects`]), and followers adopt the leader's ([`NewObjectPlacement::adopt`]), so
//! every node writes a new object where the leader's last plan said.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use backends::Backend;

use crate::config::Placement;

/// The smallest object a multipart upload with more than one part can make (S3's minimum part size): an upload's
/// backends are chosen when it starts, before its size is known.
pub const MULTIPART_MIN_BYTES: u64 = 5 * 1024 * 1024;

/// Where new objects go (see the module docs).
pub struct NewObjectPlacement {
    initial: Vec<Arc<Backend>>,
    /// `initial` with the self-tiering backend first, when the placement rules allow it.
    self_tiering: Option<Vec<Arc<Backend>>>,
    /// Objects of at least this size go to `self_tiering` (`u64::MAX`: none).
    min_bytes: AtomicU64,
    /// The advice `min_bytes` follows; `None` while it is the prior.
    advised: Mutex<Option<catalog::NewObjectsAdvice>>,
}

impl NewObjectPlacement {
    /// `initial` (the configured initial backends), and the first backend of `backends` with self-tiering, put
    /// in place of `initial[0]` unless `initial` already holds it or the swap would put two replicas on one
    /// provider where `placement` asks for diversity.
    pub fn new(
        initial: Vec<Arc<Backend>>,
        backends: &[Arc<Backend>],
        placement: &Placement,
    ) -> NewObjectPlacement {
        let auto = backends.iter().find(|b| b.profile().auto_tiering.is_some());
        let self_tiering = auto.and_then(|auto| {
            if initial.is_empty() || initial.iter().any(|b| b.name() == auto.name()) {
                return None;
            }
            let mut set = initial.clone();
            set[0] = auto.clone();
            let providers: std::collections::BTreeSet<&str> =
                set.iter().map(|b| b.profile().provider.as_str()).collect();
            (!placement.provider_diversity || providers.len() == set.len()).then_some(set)
        });
        // Before a plan has measured anything, the planner's advice for an empty store.
        let prior = self_tiering.as_ref().and_then(|set| {
            planner::initial::prior_min_bytes(set[0].profile(), placement.latency_sla_ms)
        });
        NewObjectPlacement {
            initial,
            self_tiering,
            min_bytes: AtomicU64::new(prior.unwrap_or(u64::MAX)),
            advised: Mutex::new(None),
        }
    }

    /// The configured initial backends (`[placement] initial`).
    pub fn initial(&self) -> &[Arc<Backend>] {
        &self.initial
    }

    /// The self-tiering backend new objects may be written to, if any.
    pub fn self_tiering_backend(&self) -> Option<&str> {
        self.self_tiering.as_ref().map(|s| s[0].name())
    }

    /// The size from which new objects go to the self-tiering backend, if one is advised.
    pub fn min_bytes(&self) -> Option<u64> {
        Some(self.min_bytes.load(Relaxed)).filter(|&m| m != u64::MAX && self.self_tiering.is_some())
    }

    /// Takes a plan's advice; advice for another backend than ours turns the self-tiering placement off.
    pub fn advise(&self, advice: &planner::initial::NewObjectAdvice) {
        self.adopt(&advice.target);
    }

    /// Takes advice another node published (the leader's, from its heartbeat), as [`NewObjectPlacement::advise`].
    pub fn adopt(&self, advice: &catalog::NewObjectsAdvice) {
        let min = match (advice.backend.as_deref(), advice.min_bytes) {
            (Some(name), Some(min)) if self.self_tiering_backend() == Some(name) => min,
            _ => u64::MAX,
        };
        let mut advised = self.advised.lock().unwrap_or_else(|e| e.into_inner());
        self.min_bytes.store(min, Relaxed);
        *advised = Some(advice.clone());
    }

    /// The advice this node follows, to publish; `None` while it follows the prior.
    pub fn advice(&self) -> Option<catalog::NewObjectsAdvice> {
        self.advised
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The backends for a new object of `size` bytes (`None`: not known before its body is read).
    pub fn for_size(&self, size: Option<u64>) -> Vec<Arc<Backend>> {
        match (&self.self_tiering, size, self.min_bytes()) {
            (Some(set), Some(size), Some(min)) if size >= min => set.clone(),
            _ => self.initial.clone(),
        }
    }

    /// The backends for a new multipart upload: as an object of [`MULTIPART_MIN_BYTES`].
    pub fn for_multipart(&self) -> Vec<Arc<Backend>> {
        self.for_size(Some(MULTIPART_MIN_BYTES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiers::TierProfile;

    fn backend(name: &str, profile: TierProfile) -> Arc<Backend> {
        Arc::new(Backend::memory(name, profile))
    }

    fn placement(rf: usize, diversity: bool, sla: Option<f64>) -> Placement {
        Placement {
            initial: Vec::new(),
            replication_factor: rf,
            provider_diversity: diversity,
            latency_sla_ms: sla,
        }
    }

    fn advice(backend: &str, min: Option<u64>) -> planner::initial::NewObjectAdvice {
        planner::initial::NewObjectAdvice {
            target: catalog::NewObjectsAdvice {
                backend: Some(backend.to_owned()),
                min_bytes: min,
            },
            classes: Vec::new(),
        }
    }

    fn names(set: &[Arc<Backend>]) -> Vec<&str> {
        set.iter().map(|b| b.name()).collect()
    }

    #[test]
    fn large_objects_go_to_the_self_tiering_backend_from_the_advised_size() {
        let std = backend("std", TierProfile::s3_standard());
        let it = backend("it", TierProfile::s3_intelligent_tiering());
        let p = NewObjectPlacement::new(
            vec![std.clone()],
            &[std.clone(), it.clone()],
            &placement(1, false, None),
        );
        assert_eq!(p.self_tiering_backend(), Some("it"));
        // Before any plan: the prior.
        assert_eq!(p.min_bytes(), Some(planner::initial::PRIOR_MIN_BYTES));
        p.advise(&advice("it", Some(8 << 20)));
        assert_eq!(p.min_bytes(), Some(8 << 20));
        assert_eq!(names(&p.for_size(Some(8 << 20))), ["it"]);
        assert_eq!(names(&p.for_size(Some((8 << 20) - 1))), ["std"]);
        // Unknown size: the initial backends; a multipart upload is at least 5 MiB.
        assert_eq!(names(&p.for_size(None)), ["std"]);
        assert_eq!(names(&p.for_multipart()), ["std"]);
        p.advise(&advice("it", Some(1 << 20)));
        assert_eq!(names(&p.for_multipart()), ["it"]);
        // No advice, or advice for another backend: everything to the initial backends.
        p.advise(&advice("it", None));
        assert_eq!(p.min_bytes(), None);
        assert_eq!(names(&p.for_size(Some(u64::MAX))), ["std"]);
        p.advise(&advice("elsewhere", Some(1)));
        assert_eq!(p.min_bytes(), None);
    }

    /// A node publishes the advice it follows (none while it follows the prior), and another node that adopts it
    /// places new objects the same way.
    #[test]
    fn a_follower_adopts_the_advice_the_leader_publishes() {
        let std = backend("std", TierProfile::s3_standard());
        let it = backend("it", TierProfile::s3_intelligent_tiering());
        let node = || {
            NewObjectPlacement::new(
                vec![std.clone()],
                &[std.clone(), it.clone()],
                &placement(1, false, None),
            )
        };
        let (leader, follower) = (node(), node());
        assert_eq!(leader.advice(), None, "the prior is not published");
        leader.advise(&advice("it", Some(1 << 20)));
        let published = leader.advice().expect("advice to publish");
        assert_eq!(
            published,
            catalog::NewObjectsAdvice {
                backend: Some("it".into()),
                min_bytes: Some(1 << 20)
            }
        );
        assert_eq!(names(&follower.for_size(Some(1 << 20))), ["std"]);
        follower.adopt(&published);
        assert_eq!(follower.min_bytes(), Some(1 << 20));
        assert_eq!(names(&follower.for_size(Some(1 << 20))), ["it"]);
        assert_eq!(follower.advice(), Some(published));
        // Advice that nothing pays is adopted too.
        follower.adopt(&catalog::NewObjectsAdvice {
            backend: Some("it".into()),
            min_bytes: None,
        });
        assert_eq!(follower.min_bytes(), None);
    }

    #[test]
    fn the_rules_and_the_sla_can_rule_the_self_tiering_backend_out() {
        let std = backend("std", TierProfile::s3_standard());
        let it = backend("it", TierProfile::s3_intelligent_tiering());
        let mut other = TierProfile::s3_standard();
        other.provider = "other".into();
        let other = backend("other", other);
        // No self-tiering backend, or already an initial one: nothing to switch to.
        let p = NewObjectPlacement::new(
            vec![std.clone()],
            std::slice::from_ref(&std),
            &placement(1, false, None),
        );
        assert_eq!((p.self_tiering_backend(), p.min_bytes()), (None, None));
        let p = NewObjectPlacement::new(
            vec![it.clone()],
            std::slice::from_ref(&it),
            &placement(1, false, None),
        );
        assert_eq!(p.self_tiering_backend(), None);
        // Two replicas on distinct providers: IT (aws) may replace the aws one only if the other is not aws.
        let p = NewObjectPlacement::new(
            vec![other.clone(), std.clone()],
            &[std.clone(), other.clone(), it.clone()],
            &placement(2, true, None),
        );
        assert_eq!(
            p.self_tiering_backend(),
            None,
            "it would share aws with std"
        );
        let p = NewObjectPlacement::new(
            vec![std.clone(), other.clone()],
            &[std.clone(), other.clone(), it.clone()],
            &placement(2, true, None),
        );
        assert_eq!(names(&p.for_size(Some(u64::MAX))), ["it", "other"]);
        // An SLA the class's archive tier misses: no prior advice.
        let mut slow = TierProfile::s3_intelligent_tiering();
        if let Some(a) = slow.auto_tiering.as_mut() {
            a.archive_latency_ms = Some(150.0);
        }
        let slow = backend("slow-it", slow);
        let p = NewObjectPlacement::new(
            vec![std.clone()],
            &[std.clone(), slow],
            &placement(1, false, Some(100.0)),
        );
        assert_eq!(p.self_tiering_backend(), Some("slow-it"));
        assert_eq!(p.min_bytes(), None);
    }
}
