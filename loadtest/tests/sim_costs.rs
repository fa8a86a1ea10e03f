//! Policy costs on tiny hand-made traces, checked against hand-computed
//! numbers; the oracle against brute force and as a lower bound.

use std::path::Path;

use loadtest::sim::{
    self, AgeRules, AllHot, IntelligentTiering, Move, ObjId, ObjectMeta, Policy, PolicyResult,
    PriceModel, PriceTable, SimConfig, SimReport, Simulator, StrataPolicy, TickView, TierIdx,
};
use loadtest::trace::TraceWriter;
use loadtest::workload::{Generator, GeneratorOptions, Profile};

const DAY: u64 = 86_400_000;
const GB: u64 = 1_000_000_000;

fn run(trace: &str, policies: Vec<Box<dyn Policy>>, table: PriceTable, sla_ms: f64) -> SimReport {
    let mut s = Simulator::new(
        table,
        SimConfig {
            sla_ms,
            oracle: true,
        },
    );
    for p in policies {
        s.add_policy(p).expect("distinct names");
    }
    let (report, parse) = sim::replay(s, trace.as_bytes()).expect("in-memory trace");
    assert_eq!(
        parse.bad(),
        0,
        "test trace has bad lines: {:?}",
        parse.examples
    );
    report
}

fn policy<'a>(r: &'a SimReport, name: &str) -> &'a PolicyResult {
    r.policies
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 + 1e-9 * want.abs(),
        "{what}: got {got:.12}, want {want:.12}"
    );
}

#[test]
fn all_hot_bills_standard_prices() {
    // 1 GB written at 0, read whole at day 10, deleted at day 20; a LIST.
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.GET.OBJECT a {GB}\n{} REST.GET.BUCKET a\n{} REST.DELETE.OBJECT a\n",
        10 * DAY,
        15 * DAY,
        20 * DAY
    );
    let r = run(&trace, vec![Box::new(AllHot)], PriceTable::default(), 100.0);
    let p = policy(&r, "all-hot");
    close(p.cost.storage, 0.023 * 20.0 / 30.0, "storage");
    close(
        p.cost.request,
        (0.005 + 0.0004 + 0.005) / 1000.0,
        "requests",
    );
    close(p.cost.retrieval, 0.0, "retrieval");
    close(p.cost.moves, 0.0, "moves");
    assert_eq!((p.reads, p.reads_within_sla), (1, 1));
}

#[test]
fn age_rules_transition_at_30_and_90_days_and_skip_small_objects() {
    // 1 GB and a 100 KB object written at 0; the trace ends with a HEAD
    // of the big one at day 100.
    let trace = format!(
        "0 REST.PUT.OBJECT big {GB}\n0 REST.PUT.OBJECT small 100000\n{} REST.HEAD.OBJECT big\n",
        100 * DAY
    );
    let r = run(
        &trace,
        vec![Box::new(AgeRules::default())],
        PriceTable::default(),
        100.0,
    );
    let p = policy(&r, "age-rules");
    // big: 30 d Standard, 60 d IA, 10 d Glacier IR; small: 100 d Standard.
    let storage = 0.023 + 0.0125 * 2.0 + 0.004 / 3.0 + 100_000.0 / 1e9 * 0.023 * 100.0 / 30.0;
    close(p.cost.storage, storage, "storage");
    // Two PUTs at Standard prices, the HEAD at Glacier IR's GET price.
    close(
        p.cost.request,
        2.0 * 0.005 / 1000.0 + 0.01 / 1000.0,
        "requests",
    );
    // Transitions into IA and Glacier IR; IA was kept 60 days (>= 30).
    close(p.cost.moves, 0.01 / 1000.0 + 0.02 / 1000.0, "moves");
    assert_eq!(p.moves, 2);
}

#[test]
fn age_rules_pay_early_deletion() {
    // Moved to IA at day 30, deleted at day 40: 20 more IA days billed.
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.DELETE.OBJECT a\n",
        40 * DAY
    );
    let r = run(
        &trace,
        vec![Box::new(AgeRules::default())],
        PriceTable::default(),
        100.0,
    );
    let p = policy(&r, "age-rules");
    close(p.cost.storage, 0.023 + 0.0125 / 3.0, "storage");
    close(p.cost.moves, 0.01 / 1000.0 + 0.0125 * 20.0 / 30.0, "moves");
}

#[test]
fn intelligent_tiering_follows_the_aws_rules() {
    // 1 GB written at 0, read at day 40, HEAD at day 200 (not an access);
    // a 100 KB object is never tiered nor monitored.
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n0 REST.PUT.OBJECT s 100000\n{} REST.GET.OBJECT a {GB}\n{} REST.HEAD.OBJECT a\n",
        40 * DAY,
        200 * DAY
    );
    let r = run(
        &trace,
        vec![Box::new(IntelligentTiering)],
        PriceTable::default(),
        100.0,
    );
    let p = policy(&r, "intelligent-tiering");
    // a: Frequent 0-30 and 40-70, Infrequent 30-40 and 70-130, Archive
    // Instant 130-200; monitored 200 days. s: Frequent 200 days.
    let storage = 0.023 * 60.0 / 30.0
        + 0.0125 * 70.0 / 30.0
        + 0.004 * 70.0 / 30.0
        + 0.0025 / 1000.0 * 200.0 / 30.0
        + 100_000.0 / 1e9 * 0.023 * 200.0 / 30.0;
    close(p.cost.storage, storage, "storage");
    // Requests at Standard prices whatever the tier; no retrieval fee.
    close(
        p.cost.request,
        (2.0 * 0.005 + 0.0004 + 0.0004) / 1000.0,
        "requests",
    );
    close(p.cost.retrieval, 0.0, "retrieval");
    close(p.cost.moves, 0.0, "moves");
    assert_eq!(p.moves, 4);
}

#[test]
fn oracle_reads_cold_data_from_the_cheapest_schedule() {
    // 1 GB written at 0, read at day 100.5, deleted right after. Best: PUT into Glacier IR and read it there:
    // moving it to Standard first would be a copy (behind the gateway a move is one) paying the same retrieval
    // fee, and more storage.
    let t = 100 * DAY + DAY / 2;
    let trace =
        format!("0 REST.PUT.OBJECT a {GB}\n{t} REST.GET.OBJECT a {GB}\n{t} REST.DELETE.OBJECT a\n");
    let r = run(&trace, vec![Box::new(AllHot)], PriceTable::default(), 100.0);
    let o = policy(&r, "oracle");
    close(o.cost.storage, 0.004 * 100.5 / 30.0, "storage");
    close(o.cost.request, (0.02 + 0.01) / 1000.0, "requests");
    close(o.cost.retrieval, 0.03, "retrieval");
    close(o.cost.moves, 0.0, "moves");
    assert_eq!(o.moves, 0);
    // Its timeline ends at its total.
    close(
        *o.timeline.last().expect("samples"),
        o.cost.total(),
        "timeline end",
    );
}

#[test]
fn standard_ia_and_glacier_ir_bill_an_object_under_128_kb_as_128_kb() {
    // A 4 KB object kept 30 days in Glacier IR, then deleted: 90 days of 128 KB billed (30 stored, 60 early).
    let trace = format!(
        "0 REST.PUT.OBJECT a 4096\n{} REST.DELETE.OBJECT a\n",
        30 * DAY
    );
    let scripted = Box::new(Scripted {
        name: "glacier".into(),
        plan: vec![2],
        step: 0,
        copy_moves: true,
    }) as Box<dyn Policy>;
    let r = run(&trace, vec![scripted], PriceTable::default(), 100.0);
    let g = policy(&r, "glacier");
    let kb128 = 131_072.0 / GB as f64;
    close(g.cost.storage, 0.004 * kb128, "30 days of 128 KB");
    close(g.cost.moves, 0.004 * kb128 * 2.0, "60 early days of 128 KB");
}

#[test]
fn a_move_by_copy_pays_the_source_s_get_and_retrieval_a_lifecycle_transition_does_not() {
    // 1 GB written into Glacier IR, moved to Standard at the first tick (day 1), deleted at day 2.
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.DELETE.OBJECT a\n",
        2 * DAY
    );
    let scripted = |name: &str, copy_moves: bool| {
        Box::new(Scripted {
            name: name.into(),
            plan: vec![2, 0],
            step: 0,
            copy_moves,
        }) as Box<dyn Policy>
    };
    let r = run(
        &trace,
        vec![scripted("copy", true), scripted("lifecycle", false)],
        PriceTable::default(),
        100.0,
    );
    // Early exit from Glacier IR after 1 of its 90 days, and Standard's PUT.
    let transition = 0.004 * 89.0 / 30.0 + 0.005 / 1000.0;
    close(policy(&r, "lifecycle").cost.moves, transition, "lifecycle");
    close(
        policy(&r, "copy").cost.moves,
        transition + 0.01 / 1000.0 + 0.03,
        "copy: the source's GET and 0.03 USD/GB retrieval",
    );
}

#[test]
fn oracle_pays_early_deletion_when_it_is_still_cheapest() {
    // Written at 0, deleted at day 10, never read: Standard for 10 days
    // (0.00767) beats Glacier IR billed 90 days (0.012).
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.DELETE.OBJECT a\n",
        10 * DAY
    );
    let r = run(&trace, vec![Box::new(AllHot)], PriceTable::default(), 100.0);
    close(
        policy(&r, "oracle").cost.total(),
        0.023 / 3.0 + 0.005 / 1000.0,
        "total",
    );
    // Deleted at day 60: Glacier IR billed 90 days (0.012) beats Standard
    // for 60 days (0.046) and IA for 60 days (0.025).
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.DELETE.OBJECT a\n",
        60 * DAY
    );
    let r = run(&trace, vec![Box::new(AllHot)], PriceTable::default(), 100.0);
    let o = policy(&r, "oracle");
    close(o.cost.storage, 0.004 * 2.0, "storage");
    close(o.cost.moves, 0.004, "early deletion");
    close(o.cost.total(), 0.012 + 0.02 / 1000.0, "total");
}

/// Follows a fixed schedule: `plan[0]` at creation, then `plan[i]` after
/// the i-th decision point (tick or GET) of its single object.
struct Scripted {
    name: String,
    plan: Vec<TierIdx>,
    step: usize,
    /// Billed as the oracle is (moves are copies), or as an S3 Lifecycle transition.
    copy_moves: bool,
}

impl Scripted {
    fn next(&mut self) -> Option<TierIdx> {
        self.step += 1;
        self.plan.get(self.step).copied()
    }
}

impl Policy for Scripted {
    /// Billed as the oracle is: behind the gateway, whose catalog answers LIST and HEAD (and moves as copies
    /// unless `copy_moves` is off).
    fn price_model(&self, table: &PriceTable) -> PriceModel {
        PriceModel {
            catalog_metadata: true,
            copy_moves: self.copy_moves,
            ..PriceModel::storage_classes(table)
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn on_create(&mut self, _: u64, _: ObjId, _: &ObjectMeta) -> TierIdx {
        self.plan[0]
    }
    fn on_read(
        &mut self,
        _: u64,
        _: ObjId,
        _: &ObjectMeta,
        _: u64,
        cur: TierIdx,
    ) -> Option<TierIdx> {
        self.next().filter(|t| *t != cur)
    }
    fn on_tick(&mut self, _: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
        if !view.objects.get(0).alive {
            return;
        }
        if let Some(to) = self.next()
            && view.placement[0].tier != to
        {
            moves.push(Move { obj: 0, to });
        }
    }
}

fn tough_table() -> PriceTable {
    // Short minimum durations and a small object so that early-exit fees,
    // transitions and retrieval all compete within a few days.
    let text = r#"
[[tiers]]
provider = "t"
storage_class = "HOT"
storage_gb_month = 0.03
put_per_1k = 0.005
get_per_1k = 0.0004
retrieval_per_gb = 0.0
egress_per_gb = 0.0
min_storage_days = 0
first_byte_latency_ms = 10.0

[[tiers]]
provider = "t"
storage_class = "WARM"
storage_gb_month = 0.012
put_per_1k = 0.01
get_per_1k = 0.001
retrieval_per_gb = 0.004
egress_per_gb = 0.0
min_storage_days = 2
first_byte_latency_ms = 60.0

[[tiers]]
provider = "t"
storage_class = "COLD"
storage_gb_month = 0.002
put_per_1k = 0.02
get_per_1k = 0.01
retrieval_per_gb = 0.03
egress_per_gb = 0.0
min_storage_days = 3
first_byte_latency_ms = 300.0
"#;
    PriceTable::parse(text, Path::new("<tough>")).expect("valid table")
}

#[test]
fn oracle_equals_the_best_of_every_scripted_schedule() {
    // One object, 20 MB, life of 4.5 days with reads at awkward times:
    // 1 creation + 4 ticks + 3 reads = 8 decision points, 3^8 schedules.
    let size = 20_000_000u64;
    for (deleted, reads) in [
        (true, [DAY / 3, DAY + 2, 3 * DAY]),
        (false, [2 * DAY, 2 * DAY + 1, 4 * DAY + 5]),
        (true, [10, 20, 4 * DAY]),
    ] {
        let end = 4 * DAY + DAY / 2;
        let mut trace = format!("0 REST.PUT.OBJECT o {size}\n");
        for t in reads {
            trace.push_str(&format!(
                "{t} REST.GET.OBJECT o {size} 0 {}\n",
                size / 2 - 1
            ));
        }
        trace.push_str(&if deleted {
            format!("{end} REST.DELETE.OBJECT o\n")
        } else {
            format!("{end} REST.GET.BUCKET x\n")
        });
        let points = 8;
        let total = 3usize.pow(points);
        let mut best = f64::INFINITY;
        // Batch the schedules as policies of a few simulators.
        for chunk in (0..total).collect::<Vec<_>>().chunks(729) {
            let policies: Vec<Box<dyn Policy>> = chunk
                .iter()
                .map(|&code| {
                    let mut c = code;
                    let plan = (0..points)
                        .map(|_| {
                            let t = (c % 3) as TierIdx;
                            c /= 3;
                            t
                        })
                        .collect();
                    Box::new(Scripted {
                        name: format!("s{code}"),
                        plan,
                        step: 0,
                        copy_moves: true,
                    }) as Box<dyn Policy>
                })
                .collect();
            let r = run(&trace, policies, tough_table(), 100.0);
            for p in r.policies.iter().filter(|p| p.name != "oracle") {
                best = best.min(p.cost.total());
            }
            let oracle = policy(&r, "oracle").cost.total();
            close(oracle, best.min(oracle), "oracle is a lower bound");
        }
        let r = run(&trace, vec![Box::new(AllHot)], tough_table(), 100.0);
        close(
            policy(&r, "oracle").cost.total(),
            best,
            "oracle equals the brute-force optimum",
        );
    }
}

fn generated(profile: &Profile) -> String {
    let mut w = TraceWriter::new(Vec::new());
    for ev in Generator::new(profile, GeneratorOptions::default()) {
        w.write(&ev.record()).expect("vec write");
    }
    String::from_utf8(w.finish().expect("flush")).expect("utf8")
}

#[test]
fn oracle_is_a_lower_bound_on_generated_traces() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    for (name, days) in [
        ("web.toml", 40.0),
        ("archive.toml", 200.0),
        ("mixed.toml", 100.0),
    ] {
        let mut p = Profile::load(&dir.join(name)).expect("shipped profile");
        p.duration_days = days;
        p.reads.per_day = p.reads.per_day.min(2000.0);
        for table in [PriceTable::default(), tough_table()] {
            let r = run(
                &generated(&p),
                vec![
                    Box::new(AllHot),
                    Box::new(AgeRules::default()),
                    Box::new(IntelligentTiering),
                    Box::new(StrataPolicy::new(&table, 100.0).expect("planner accepts the table")),
                ],
                table,
                100.0,
            );
            let oracle = policy(&r, "oracle").cost.total();
            for other in r.policies.iter().filter(|q| q.name != "oracle") {
                assert!(
                    oracle <= other.cost.total() * (1.0 + 1e-9),
                    "{name}: oracle {oracle} > {} {}",
                    other.name,
                    other.cost.total()
                );
            }
            let reads = policy(&r, "all-hot").reads;
            assert!(
                r.policies.iter().all(|q| q.reads == reads),
                "{name}: same reads for all"
            );
        }
    }
}

#[test]
fn strata_beats_all_hot_on_the_archive_and_respects_the_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let p = Profile::load(&dir.join("archive.toml")).expect("shipped profile");
    let table = PriceTable::default();
    let mut s = Simulator::with_builtin_policies(table, SimConfig::default());
    assert!(
        s.add_policy(Box::new(AllHot)).is_err(),
        "built-ins are registered"
    );
    let trace = generated(&p);
    let (r, parse) = sim::replay(s, trace.as_bytes()).expect("in-memory trace");
    assert_eq!(parse.bad(), 0);
    assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
    let names: Vec<&str> = r.policies.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "all-hot",
            "age-rules",
            "intelligent-tiering",
            "strata",
            "oracle"
        ]
    );
    let strata = policy(&r, "strata");
    let all_hot = policy(&r, "all-hot").cost.total();
    let oracle = policy(&r, "oracle").cost.total();
    assert!(
        strata.cost.total() < all_hot,
        "strata {} >= all-hot {all_hot}",
        strata.cost.total()
    );
    assert!(
        strata.cost.total() >= oracle * (1.0 - 1e-9),
        "strata {} < oracle {oracle}",
        strata.cost.total()
    );
    assert!(strata.moves > 0, "strata tiers something");
    assert_eq!(strata.reads, policy(&r, "all-hot").reads);
}

#[test]
fn strata_keeps_a_read_object_hot_and_cools_an_idle_one() {
    // "a" is read every day, 200 objects "b…" never: after the ticks, the "b"s have
    // left tier 0, and "a" was served hot throughout. (A population, not one
    // object: the planner's read hazard is measured on the log, and on one
    // never-read object its smoothing alone would say "maybe".)
    let mut trace = format!("0 REST.PUT.OBJECT a {GB}\n");
    for i in 0..200 {
        trace.push_str(&format!("1 REST.PUT.OBJECT b{i} {}\n", GB / 10));
    }
    for d in 0..120 {
        trace.push_str(&format!("{} REST.GET.OBJECT a {GB}\n", d * DAY + 2));
    }
    let table = PriceTable::default();
    let r = run(
        &trace,
        vec![Box::new(
            StrataPolicy::new(&table, 100.0).expect("planner accepts the table"),
        )],
        table,
        100.0,
    );
    let s = policy(&r, "strata");
    assert_eq!(s.reads, 120);
    assert_eq!(s.cost.retrieval, 0.0, "a is never read from a cold tier");
    assert!(s.moves >= 200, "the b's are cooled: {} moves", s.moves);
    let oracle = policy(&r, "oracle").cost.total();
    assert!(
        s.cost.total() < oracle * 1.5,
        "strata {:?} vs oracle {oracle}",
        s.cost
    );
}

#[test]
fn latency_profile_makes_the_sla_matter() {
    // With the tough table (warm 60 ms, cold 300 ms) and a 50 ms SLA,
    // age-rules serves reads of old objects from slow tiers.
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.GET.OBJECT a {GB}\n{} REST.GET.OBJECT a {GB}\n",
        DAY,
        100 * DAY
    );
    let mut table = tough_table();
    table.tiers[1].min_storage_days = 30;
    let r = run(
        &trace,
        vec![Box::new(AllHot), Box::new(AgeRules::default())],
        table,
        50.0,
    );
    assert_eq!(policy(&r, "all-hot").sla_adherence(), 1.0);
    let age = policy(&r, "age-rules");
    assert_eq!((age.reads, age.reads_within_sla), (2, 1));
    assert_eq!(age.sla_adherence(), 0.5);
}

#[test]
fn anomalies_are_counted_not_fatal() {
    let trace = "1000 REST.GET.OBJECT pre 500\n\
                 900 REST.PUT.OBJECT a\n\
                 2000 REST.DELETE.OBJECT nobody\n\
                 3000 REST.PUT.OBJECT a 10\n\
                 4000 REST.DELETE.OBJECT a\n\
                 5000 REST.GET.OBJECT a 10\n\
                 999999999999999 REST.GET.OBJECT pre 500\n";
    let r = run(trace, vec![Box::new(AllHot)], PriceTable::default(), 100.0);
    let s = &r.stats;
    assert_eq!(s.preexisting_objects, 1);
    assert_eq!(s.reordered, 1);
    assert_eq!(s.missing_sizes, 1);
    assert_eq!(s.deletes_of_unknown, 1);
    assert_eq!(s.overwrites, 1);
    assert_eq!(s.requests_to_deleted, 1);
    assert_eq!(s.out_of_span, 1);
    assert_eq!(s.records, 6);
    // The pre-existing object's PUT is not billed; the two writes of a are.
    close(
        policy(&r, "all-hot").cost.request,
        (2.0 * 0.005 + 0.0004) / 1000.0,
        "requests",
    );
}

/// Intelligent-Tiering as one of a policy's choices (tiers 3..6 of `PriceModel::with_intelligent_tiering`)
/// bills exactly like the `intelligent-tiering` policy: the class's own moves are free, the monitoring fee is
/// charged only while the object is in it.
#[test]
fn intelligent_tiering_as_a_choice_bills_like_intelligent_tiering() {
    struct InsideIt;
    impl Policy for InsideIt {
        fn name(&self) -> &str {
            "it-inside"
        }
        fn price_model(&self, table: &PriceTable) -> sim::PriceModel {
            sim::PriceModel::with_intelligent_tiering(table)
        }
        fn on_create(&mut self, _now_ms: u64, _obj: ObjId, _meta: &ObjectMeta) -> TierIdx {
            3
        }
        fn on_read(
            &mut self,
            _now_ms: u64,
            _obj: ObjId,
            _meta: &ObjectMeta,
            _bytes: u64,
            current: TierIdx,
        ) -> Option<TierIdx> {
            (current > 3).then_some(3)
        }
        fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
            for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
                let idle = now_ms.saturating_sub(meta.created_ms.max(meta.last_read_ms));
                let to = if idle >= 90 * DAY {
                    5
                } else if idle >= 30 * DAY {
                    4
                } else {
                    continue;
                };
                if meta.alive && place.tier >= 3 && place.tier < to {
                    moves.push(Move {
                        obj: i as ObjId,
                        to,
                    });
                }
            }
        }
    }
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n1 REST.PUT.OBJECT small 1000\n{} REST.GET.OBJECT a {GB}\n{} REST.HEAD.OBJECT a\n",
        120 * DAY,
        150 * DAY
    );
    let r = run(
        &trace,
        vec![Box::new(IntelligentTiering), Box::new(InsideIt)],
        PriceTable::default(),
        100.0,
    );
    let (it, inside) = (policy(&r, "intelligent-tiering"), policy(&r, "it-inside"));
    // Equal up to float accumulation in a different order.
    let near =
        |a: f64, b: f64, what: &str| assert!((a - b).abs() <= 1e-5 * b, "{what}: {a} vs {b}");
    near(
        inside.cost.storage,
        it.cost.storage,
        "storage and monitoring",
    );
    close(inside.cost.retrieval, 0.0, "no retrieval fee");
    close(inside.cost.moves, 0.0, "the class's own moves are free");
    near(inside.cost.total(), it.cost.total(), "total");
    assert!(inside.moves >= 3, "30 days, 90 days, back on the read");
}

#[test]
fn strata_and_the_oracle_pay_no_list_or_head_since_the_catalog_answers_them() {
    let trace = format!(
        "0 REST.PUT.OBJECT a {GB}\n{} REST.HEAD.OBJECT a {GB}\n{} REST.GET.BUCKET a\n",
        DAY,
        2 * DAY
    );
    let table = PriceTable::default();
    let r = run(
        &trace,
        vec![
            Box::new(AllHot),
            Box::new(StrataPolicy::new(&table, 100.0).expect("planner accepts the table")),
        ],
        table,
        100.0,
    );
    close(
        policy(&r, "all-hot").cost.request,
        (0.005 + 0.0004 + 0.005) / 1000.0,
        "all-hot: PUT, HEAD, LIST",
    );
    close(
        policy(&r, "strata").cost.request,
        0.005 / 1000.0,
        "strata: the PUT",
    );
    // The oracle writes the idle object straight to Glacier IR: that PUT only.
    close(
        policy(&r, "oracle").cost.request,
        0.02 / 1000.0,
        "oracle: the PUT",
    );
}
