//! The planner inside the gateway: snapshot the catalog, run one planning cycle, and turn the plan into move
//! tasks for the mover. Runs on an interval when enabled, and on demand through `/admin/plan`.

use std::sync::Arc;
use std::time::Duration;

use planner::{BackendSpec, CostConfig, MoveBudget, PlacementRules, Plan, PlannerConfig};
use serde::Deserialize;

use crate::core::Core;
use crate::error::EngineError;
use crate::model::CurrentModel;
use crate::mover::MoverHandle;

/// `[planner]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerSettings {
    /// Run the planner (and apply its plans) in the background.
    pub enabled: bool,
    /// Seconds between background cycles.
    pub interval_secs: u64,
    /// Planning horizon (days): placements are compared by their cost over it (storage, forecast reads, moves).
    /// Default 30: with Intelligent-Tiering among the choices and the read-risk limit below, a month beat a week
    /// and a quarter on the tuning seeds of the evaluation family (`strata-loadtest evaluate`, loadtest/README.md).
    pub horizon_days: f64,
    /// Most bytes moved per cycle (None: no limit).
    pub max_move_bytes: Option<u64>,
    /// Most egress dollars spent per cycle (None: no limit).
    pub max_egress_usd: Option<f64>,
    /// Most move tasks waiting or running at once: a cycle adds at most this many less those still active, the
    /// most valuable first (`planner::Plan::deferred_moves` counts the rest, which later cycles plan again). Bounds
    /// what a cold start over a large catalog creates, and what each cycle and the mover read back. Default 100,000.
    pub max_active_moves: usize,
    /// The horizon of `p_hot` (hours): the label window the forest is trained on, and the period
    /// the read forecast counts in (`planner::cost::ReadForecast`).
    pub model_horizon_hours: f64,
    /// Seconds between scheduled trainings of the `p_hot` forest (0: only on demand, through
    /// `POST /admin/model/retrain`). Measured on the gateway clock.
    pub retrain_interval_secs: u64,
    /// The price of being wrong: an object moves onto a backend with a retrieval fee or a minimum storage
    /// duration only when the probability that the move loses money within that duration (more reads than the
    /// storage saved pays for; for whole-object reads, any read) is at most this (`planner::CostConfig::
    /// max_read_risk`, `planner::CostModel::losing_probability`). 1 turns the check off. Default 0.2 (tuned in the simulator, loadtest/README.md).
    pub max_read_risk: f64,
    /// The SLA's price of being wrong, when `[placement] latency_sla_ms` is set: an object moves onto a backend
    /// slower than the SLA (or a self-tiering class whose archive tier is) only when the probability of a read
    /// within the planning horizon (for the class: within the 180 days it is priced over) is at most this
    /// (`planner::CostConfig::max_sla_risk`), so reads the forecast
    /// did not expect still meet the SLA. 1 turns the check off. Default 0.005 (`strata-loadtest evaluate
    /// --prices loadtest/profiles/prices-slow-cold.toml`, loadtest/README.md).
    pub max_sla_risk: f64,
}

impl PlannerSettings {
    /// The settings of the `p_hot` model, which trains on `history_ms` of access log.
    pub fn model_settings(&self, history_ms: i64) -> crate::model::ModelSettings {
        crate::model::ModelSettings {
            horizon_ms: (self.model_horizon_hours * 3_600_000.0) as i64,
            retrain_interval_secs: self.retrain_interval_secs,
            history_ms,
        }
    }
}

impl Default for PlannerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 3600,
            horizon_days: 30.0,
            max_move_bytes: None,
            max_egress_usd: None,
            max_active_moves: 100_000,
            model_horizon_hours: 24.0,
            retrain_interval_secs: 24 * 3600,
            max_read_risk: 0.2,
            max_sla_risk: 0.005,
        }
    }
}

/// What the planner needs from the gateway's configuration.
#[derive(Debug, Clone)]
pub struct PlannerContext {
    pub settings: PlannerSettings,
    pub rules: PlacementRules,
    pub sla_ms: Option<f64>,
    /// `capacity_bytes` of the backends that have one.
    pub capacities: std::collections::BTreeMap<String, u64>,
}

/// Computes a plan at the gateway clock's now (dry run: nothing changes) with the `p_hot` model in use, and refreshes every object's `p_hot` on the way. Objects with a move in flight are
/// left out of the plan (`planner::Inventory::held`), and it adds at most the room they leave under
/// `max_active_moves`.
pub async fn compute(
    strata: &Arc<Core>,
    model: &Arc<CurrentModel>,
    ctx: &PlannerContext,
) -> Result<Plan, EngineError> {
    let s = strata.clone();
    let scores = model.clone();
    let ctx = ctx.clone();
    let now = strata.clock.now_ms();
    tokio::task::spawn_blocking(move || {
        let inv = planner::source::load_inventory(
            &*s.catalog,
            now,
            &planner::source::LoadOptions::default(),
        )?;
        let specs: Vec<BackendSpec> = s
            .backends
            .iter()
            .map(|b| BackendSpec {
                name: b.name().to_owned(),
                profile: b.profile().clone(),
                capacity_bytes: ctx.capacities.get(b.name()).copied(),
            })
            .collect();
        let model = scores.current();
        let mut cost = CostConfig {
            horizon_days: ctx.settings.horizon_days,
            max_read_risk: ctx.settings.max_read_risk,
            ..CostConfig::default()
        };
        // The SLA is a promise only when the operator made it.
        if let Some(sla) = ctx.sla_ms {
            cost.sla_ms = sla;
            cost.max_sla_risk = ctx.settings.max_sla_risk;
        }
        // Objects with a move in flight are held out of the plan by the inventory; the cycle adds tasks up to
        // the room those leave.
        let room = ctx.settings.max_active_moves.saturating_sub(inv.held.len());
        let cfg = PlannerConfig {
            rules: ctx.rules,
            cost,
            budget: MoveBudget {
                max_bytes: ctx.settings.max_move_bytes,
                max_egress_usd: ctx.settings.max_egress_usd,
                max_moves: Some(room),
            },
            read_prior: scores.hazard(),
            ..PlannerConfig::default()
        };
        let (plan, p_hot) = planner::plan_cycle_scored(&inv, &specs, model.as_ref(), &cfg, now)?;
        scores.keep_scores(&inv, p_hot, plan.model_in_use, now);
        Ok(plan)
    })
    .await
    .map_err(|e| EngineError::task("planner", e))?
}

/// Persists the plan's moves as `Planned` tasks and wakes the mover, and takes its advice on where new objects go
/// ([`crate::new_objects`]); returns the tasks created.
pub async fn apply(
    strata: &Arc<Core>,
    mover: &MoverHandle,
    plan: &Plan,
) -> Result<Vec<catalog::MoveTask>, EngineError> {
    strata.new_objects.advise(&plan.new_objects);
    let plan_id = format!("plan-{}", plan.planned_at_ms);
    let moves = plan.new_moves(Some(&plan_id));
    let now = strata.clock.now_ms();
    let created = strata
        .with_catalog(move |c| c.create_moves(moves, now))
        .await?;
    mover.wake();
    Ok(created)
}

/// Background cycles: plan and apply every `interval_secs`.
pub async fn run(
    strata: Arc<Core>,
    model: Arc<CurrentModel>,
    mover: MoverHandle,
    ctx: PlannerContext,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(ctx.settings.interval_secs.max(1)));
    tick.tick().await; // the first tick is immediate: give the gateway a full interval of history first
    loop {
        tick.tick().await;
        match compute(&strata, &model, &ctx).await {
            Ok(plan) => match apply(&strata, &mover, &plan).await {
                Ok(created) => tracing::info!(
                    moves = created.len(),
                    cost_before = plan.cost_before,
                    cost_after = plan.cost_after,
                    gap = plan.gap,
                    "planner cycle applied"
                ),
                Err(e) => tracing::warn!(error = %e, "planner cycle could not create its moves"),
            },
            Err(e) => tracing::warn!(error = %e, "planner cycle failed"),
        }
    }
}
