//! [`Chaos`]: the shared, runtime-changeable set of active rules, and the
//! per-call decision of which faults fire.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::{ChaosConfig, ChaosError, Fault, Op, Rule};
use crate::fault::{InjectedFault, InjectedKind};

/// Injection counters of one installed rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuleStats {
    /// The rule's (effective) id.
    pub id: String,
    /// The backend it targets (`"*"` for all).
    pub backend: String,
    /// Its fault's `type`, e.g. `"latency"`.
    pub fault_type: String,
    /// Faults injected since the rule was installed.
    pub injected: u64,
}

/// One installed rule with its counter.
struct ActiveRule {
    id: Arc<str>,
    rule: Rule,
    injected: AtomicU64,
}

/// The installed configuration.
struct Active {
    /// When [`Chaos::set`] installed it (origin of rule windows).
    installed: Instant,
    /// The configuration as installed, ids filled in.
    config: ChaosConfig,
    rules: Vec<ActiveRule>,
}

impl Active {
    fn new(config: &ChaosConfig) -> Active {
        let config = config.normalized();
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| ActiveRule {
                id: Arc::from(rule.id.clone().unwrap_or_else(|| format!("rule-{i}"))),
                rule: rule.clone(),
                injected: AtomicU64::new(0),
            })
            .collect();
        Active {
            installed: Instant::now(),
            config,
            rules,
        }
    }
}

/// The shared fault-injection controller.
///
/// One `Chaos` is shared (as `Arc<Chaos>`) by every [`crate::ChaosStore`]
/// and by whatever changes the rules at run time (the admin API). Rules are
/// replaced atomically with [`Chaos::set`] / [`Chaos::clear`]; calls already
/// in progress keep the decision they made.
///
/// # Cost when idle
/// With no rules installed, a wrapped call does one relaxed atomic load
/// ([`Chaos::is_enabled`]) and delegates. With rules installed, each call
/// takes a read lock, scans the rules and, if any rule matches, locks the
/// random number generator.
///
/// # How rules combine
/// For each call the rules are scanned in order. A rule *fires* if its
/// backend and op filters match, its fault applies to the op, its window
/// is open, its probability roll succeeds and its `max_count` is not
/// exhausted. Then:
/// - every firing `latency` rule adds its delay (delays stack);
/// - the first firing `error` / `timeout` / `hang` / `down` rule ends the
///   scan and decides the call's failure;
/// - after a get succeeds on the inner store, the rules are scanned again
///   for stream faults (`reset_mid_stream`, `truncate`, `corrupt`); the
///   first one that would change the body (its `after_bytes` within the
///   body, or a non-empty body for `corrupt`) fires.
///
/// Every fired rule increments its counter (see [`Chaos::stats`]) and the
/// global [`Chaos::total_injected`], and logs a `tracing` warning naming
/// the rule, backend, op, fault and location.
pub struct Chaos {
    /// Fast path: true iff the installed config has rules.
    enabled: AtomicBool,
    active: RwLock<Arc<Active>>,
    rng: Mutex<StdRng>,
    /// Faults injected since creation (never reset).
    total: AtomicU64,
}

impl fmt::Debug for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chaos")
            .field("enabled", &self.is_enabled())
            .field("rules", &self.active().rules.len())
            .field("total_injected", &self.total_injected())
            .finish()
    }
}

/// A call fault decided before the inner store is called.
#[derive(Clone, Debug)]
pub(crate) enum Terminal {
    /// Fail with an injected error after the delay.
    Fail(InjectedFault),
    /// Wait, then fail as timed out.
    Timeout(Duration, InjectedFault),
    /// Never complete.
    Hang,
}

/// What happens to one call before the inner store is reached.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Total injected latency (applied first).
    pub(crate) delay: Duration,
    /// The call's failure, if any.
    pub(crate) terminal: Option<Terminal>,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub(crate) fn is_passthrough(&self) -> bool {
        self.delay.is_zero() && self.terminal.is_none()
    }

    /// Applies the plan: sleeps the delay, then fails, times out or hangs
    /// as decided. `Ok(())` means: proceed to the inner store.
    pub(crate) async fn apply(self, path: &str) -> object_store::Result<()> {
        // `down` fails immediately, skipping any stacked latency.
        if let Some(Terminal::Fail(fault)) = &self.terminal
            && fault.kind == InjectedKind::Down
        {
            return Err(fault.clone().into_store_error(path));
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        match self.terminal {
            None => Ok(()),
            Some(Terminal::Fail(fault)) => Err(fault.into_store_error(path)),
            Some(Terminal::Timeout(after, fault)) => {
                tokio::time::sleep(after).await;
                Err(fault.into_store_error(path))
            }
            Some(Terminal::Hang) => std::future::pending().await,
        }
    }
}

/// A stream fault decided for one get body.
#[derive(Clone, Debug)]
pub(crate) enum DataFault {
    /// Yield `after` bytes, then this error.
    Reset { after: u64, fault: InjectedFault },
    /// Yield `after` bytes, then end.
    Truncate { after: u64 },
    /// XOR the bytes at these body offsets (sorted, distinct) with the
    /// paired non-zero masks.
    Corrupt { flips: Vec<(u64, u8)> },
}

impl Chaos {
    /// A controller with no rules, seeded from the OS.
    pub fn new() -> Arc<Chaos> {
        Chaos::with_rng(StdRng::from_entropy())
    }

    /// A controller with no rules whose random choices (probabilities,
    /// jitter, corrupted positions) are determined by `seed`: the same
    /// sequence of calls makes the same choices.
    pub fn with_seed(seed: u64) -> Arc<Chaos> {
        Chaos::with_rng(StdRng::seed_from_u64(seed))
    }

    fn with_rng(rng: StdRng) -> Arc<Chaos> {
        Arc::new(Chaos {
            enabled: AtomicBool::new(false),
            active: RwLock::new(Arc::new(Active::new(&ChaosConfig::default()))),
            rng: Mutex::new(rng),
            total: AtomicU64::new(0),
        })
    }

    /// Whether any rule is installed: the single relaxed atomic load on the
    /// wrapper's request path.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Replaces the installed rules with `config` (all rule windows restart
    /// now, per-rule counters restart at 0; [`Chaos::total_injected`] keeps
    /// counting). Fails, changing nothing, if
    /// [`ChaosConfig::validate_rules`] rejects the config; backend names
    /// are not checked here (use [`ChaosConfig::validate`] first).
    pub fn set(&self, config: ChaosConfig) -> Result<(), ChaosError> {
        config.validate_rules()?;
        let active = Arc::new(Active::new(&config));
        let enabled = !active.rules.is_empty();
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = active;
        self.enabled.store(enabled, Ordering::Release);
        tracing::info!(rules = config.rules.len(), "chaos: rules installed");
        Ok(())
    }

    /// Removes every rule: wrapped stores pass everything through.
    pub fn clear(&self) {
        self.enabled.store(false, Ordering::Release);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Active::new(&ChaosConfig::default()));
        tracing::info!("chaos: rules cleared");
    }

    /// The installed configuration, with every rule's id filled in.
    pub fn config(&self) -> ChaosConfig {
        self.active().config.clone()
    }

    /// Per-rule injection counts of the installed rules, in rule order.
    pub fn stats(&self) -> Vec<RuleStats> {
        self.active()
            .rules
            .iter()
            .map(|r| RuleStats {
                id: r.id.to_string(),
                backend: r.rule.backend.clone(),
                fault_type: r.rule.fault.type_name().to_string(),
                injected: r.injected.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Faults injected since this controller was created, across all
    /// configurations.
    pub fn total_injected(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn active(&self) -> Arc<Active> {
        Arc::clone(&self.active.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn rng(&self) -> MutexGuard<'_, StdRng> {
        // The generator has no invariants a panic could break.
        self.rng.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `rule` fires now: window open, probability roll won, and a
    /// `max_count` slot reserved. Counts and logs the injection.
    fn fire(
        &self,
        active: &Active,
        rule: &ActiveRule,
        rng: &mut StdRng,
        ctx: &CallCtx<'_>,
    ) -> bool {
        let spec = &rule.rule;
        if let Some(window) = &spec.window {
            let elapsed = active.installed.elapsed();
            let start = Duration::from_millis(window.start_after_ms);
            let end = start.saturating_add(Duration::from_millis(window.duration_ms));
            if elapsed < start || elapsed >= end {
                return false;
            }
        }
        if spec.probability < 1.0 && !rng.gen_bool(spec.probability.clamp(0.0, 1.0)) {
            return false;
        }
        let reserved = match spec.max_count {
            None => {
                rule.injected.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(max) => rule
                .injected
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok(),
        };
        if reserved {
            self.total.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                rule = %rule.id,
                backend = ctx.backend,
                op = %ctx.op,
                fault = %spec.fault,
                path = ctx.path,
                "chaos: injected fault"
            );
        }
        reserved
    }

    /// Decides the call faults (latency, error, timeout, hang, down) for one
    /// call. Only called when [`Chaos::is_enabled`].
    pub(crate) fn plan(&self, backend: &str, op: Op, path: &str) -> Plan {
        let active = self.active();
        let ctx = CallCtx { backend, op, path };
        let mut plan = Plan::default();
        let mut candidates = active.rules.iter().filter(|r| {
            !r.rule.fault.is_stream_fault()
                && r.rule.matches_backend(backend)
                && r.rule.applies_to(op)
        });
        let Some(first) = candidates.next() else {
            return plan;
        };
        let mut rng = self.rng();
        for rule in std::iter::once(first).chain(candidates) {
            if !self.fire(&active, rule, &mut rng, &ctx) {
                continue;
            }
            let fault = |kind: InjectedKind, status: Option<u16>| InjectedFault {
                rule: rule.id.to_string(),
                backend: backend.to_string(),
                op,
                kind,
                status,
            };
            match &rule.rule.fault {
                Fault::Latency {
                    fixed_ms,
                    jitter_ms,
                    tail_ms,
                    tail_probability,
                } => {
                    let mut ms = *fixed_ms;
                    if *jitter_ms > 0 {
                        ms = ms.saturating_add(rng.gen_range(0..=*jitter_ms));
                    }
                    if *tail_ms > 0
                        && *tail_probability > 0.0
                        && rng.gen_bool(tail_probability.clamp(0.0, 1.0))
                    {
                        ms = ms.saturating_add(*tail_ms);
                    }
                    plan.delay = plan.delay.saturating_add(Duration::from_millis(ms));
                }
                Fault::Error { status } => {
                    plan.terminal = Some(Terminal::Fail(fault(InjectedKind::Error, Some(*status))));
                    break;
                }
                Fault::Timeout { after_ms } => {
                    plan.terminal = Some(Terminal::Timeout(
                        Duration::from_millis(*after_ms),
                        fault(InjectedKind::Timeout, None),
                    ));
                    break;
                }
                Fault::Hang => {
                    plan.terminal = Some(Terminal::Hang);
                    break;
                }
                Fault::Down => {
                    plan.terminal = Some(Terminal::Fail(fault(InjectedKind::Down, None)));
                    break;
                }
                Fault::ResetMidStream { .. } | Fault::Truncate { .. } | Fault::Corrupt { .. } => {}
            }
        }
        plan
    }

    /// Decides the stream fault for a get whose body has `len` bytes. Only
    /// called when [`Chaos::is_enabled`].
    pub(crate) fn data_fault(
        &self,
        backend: &str,
        op: Op,
        path: &str,
        len: u64,
    ) -> Option<DataFault> {
        let active = self.active();
        let ctx = CallCtx { backend, op, path };
        let mut candidates = active.rules.iter().filter(|r| {
            r.rule.fault.is_stream_fault()
                && r.rule.matches_backend(backend)
                && r.rule.applies_to(op)
                && match r.rule.fault {
                    Fault::ResetMidStream { after_bytes } => after_bytes <= len,
                    Fault::Truncate { after_bytes } => after_bytes < len,
                    _ => len > 0,
                }
        });
        let first = candidates.next()?;
        let mut rng = self.rng();
        for rule in std::iter::once(first).chain(candidates) {
            if !self.fire(&active, rule, &mut rng, &ctx) {
                continue;
            }
            return match rule.rule.fault {
                Fault::ResetMidStream { after_bytes } => Some(DataFault::Reset {
                    after: after_bytes,
                    fault: InjectedFault {
                        rule: rule.id.to_string(),
                        backend: backend.to_string(),
                        op,
                        kind: InjectedKind::ResetMidStream,
                        status: None,
                    },
                }),
                Fault::Truncate { after_bytes } => Some(DataFault::Truncate { after: after_bytes }),
                Fault::Corrupt { flips } => Some(DataFault::Corrupt {
                    flips: pick_flips(&mut rng, 0..len, flips),
                }),
                _ => None,
            };
        }
        None
    }
}

/// What a decision is about (for logs).
struct CallCtx<'a> {
    backend: &'a str,
    op: Op,
    path: &'a str,
}

/// `count` distinct offsets in `range` (all of it if shorter), sorted, each
/// with a non-zero XOR mask.
fn pick_flips(rng: &mut StdRng, range: Range<u64>, count: u32) -> Vec<(u64, u8)> {
    let len = range.end - range.start;
    let count = u64::from(count).min(len);
    let mut offsets: Vec<u64> = match usize::try_from(len) {
        Ok(n) => rand::seq::index::sample(rng, n, count as usize)
            .into_iter()
            .map(|i| range.start + i as u64)
            .collect(),
        Err(_) => {
            // Only on targets where the body length exceeds usize: rejection
            // sampling (count is small next to len).
            let mut v = Vec::with_capacity(count as usize);
            while (v.len() as u64) < count {
                let off = rng.gen_range(range.clone());
                if !v.contains(&off) {
                    v.push(off);
                }
            }
            v
        }
    };
    offsets.sort_unstable();
    offsets
        .into_iter()
        .map(|off| (off, rng.gen_range(1..=u8::MAX)))
        .collect()
}
