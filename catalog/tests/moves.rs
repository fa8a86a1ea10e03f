mod common;

use catalog::{CatalogError, MoveState, NewMove};
use common::*;

fn new_move(cat: &dyn catalog::Catalog, key: &str, to: &[&str]) -> NewMove {
    let rec = cat.get_object("b", key).unwrap().expect("object");
    NewMove {
        bucket: "b".into(),
        key: key.into(),
        generation: rec.generation,
        from: rec.replicas.clone(),
        to: to.iter().map(|s| s.to_string()).collect(),
        bytes: rec.size,
        plan_id: Some("p1".into()),
    }
}

#[test]
fn a_verified_move_commits_atomically_and_releases_the_old_replica() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["blob-1"], &["hot"]))
        .unwrap();
    let before = cat.get_object("b", "k").unwrap().unwrap();
    let task = cat
        .create_moves(vec![new_move(&*cat, "k", &["cold"])], 10)
        .unwrap()
        .remove(0);
    assert_eq!(task.state, MoveState::Planned);
    assert_eq!(task.destinations(), ["cold"]);
    // Committing before the copy is verified is refused.
    assert!(matches!(
        cat.commit_move(task.id, 11),
        Err(CatalogError::InvalidArgument(_))
    ));
    let t = cat
        .set_move_state(task.id, MoveState::Copying, None, 12)
        .unwrap();
    assert_eq!(t.attempts, 1);
    cat.set_move_state(task.id, MoveState::Verified, None, 13)
        .unwrap();
    let done = cat.commit_move(task.id, 14).unwrap();
    assert_eq!(done.state, MoveState::Committed);
    assert_eq!(done.released, vec![("hot".to_owned(), "blob-1".to_owned())]);
    let after = cat.get_object("b", "k").unwrap().unwrap();
    assert_eq!(after.replicas, ["cold"]);
    assert!(
        after.generation > before.generation,
        "a commit is a new generation"
    );
    // The move's time is kept: the new replicas' minimum durations and idle clocks start there.
    assert_eq!((before.moved_ms, after.moved_ms), (0, 14));
    assert_eq!(after.placed_ms(), after.last_modified_ms.max(14));
    let summary = cat.scan_summaries(None, 10).unwrap();
    assert_eq!(summary[0].2.moved_ms, 14);
    assert_eq!(garbage_pairs(&*cat), pairs(&[("hot", "blob-1")]));
    let released = cat
        .set_move_state(task.id, MoveState::SourceReleased, None, 15)
        .unwrap();
    assert!(released.state.is_terminal());
    // Nothing leaves a terminal state.
    assert!(
        cat.set_move_state(task.id, MoveState::Aborted, Some("late".into()), 16)
            .is_err()
    );
}

#[test]
fn an_overwrite_during_the_move_aborts_it_and_keeps_the_new_version() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["v1"], &["hot"])).unwrap();
    let task = cat
        .create_moves(vec![new_move(&*cat, "k", &["cold"])], 0)
        .unwrap()
        .remove(0);
    cat.set_move_state(task.id, MoveState::Copying, None, 1)
        .unwrap();
    cat.put_object("b", "k", object(&["v2"], &["hot"])).unwrap();
    cat.set_move_state(task.id, MoveState::Verified, None, 2)
        .unwrap();
    let done = cat.commit_move(task.id, 3).unwrap();
    assert_eq!(done.state, MoveState::Aborted);
    assert!(done.reason.unwrap().contains("changed"));
    let rec = cat.get_object("b", "k").unwrap().unwrap();
    assert_eq!(rec.parts[0].blob, "v2");
    assert_eq!(rec.replicas, ["hot"]);
}

#[test]
fn a_delete_during_the_move_aborts_it() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["v1"], &["hot"])).unwrap();
    let task = cat
        .create_moves(vec![new_move(&*cat, "k", &["cold"])], 0)
        .unwrap()
        .remove(0);
    cat.set_move_state(task.id, MoveState::Copying, None, 1)
        .unwrap();
    cat.set_move_state(task.id, MoveState::Verified, None, 2)
        .unwrap();
    cat.delete_object("b", "k").unwrap();
    let done = cat.commit_move(task.id, 3).unwrap();
    assert_eq!(done.state, MoveState::Aborted);
    assert!(
        cat.get_object("b", "k").unwrap().is_none(),
        "a move never resurrects a deleted object"
    );
}

#[test]
fn listing_moves_newest_first_and_active_only_survives_reopen() {
    let (dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    for k in ["a", "c", "d"] {
        cat.put_object("b", k, object(&[&format!("blob-{k}")], &["hot"]))
            .unwrap();
    }
    let tasks = cat
        .create_moves(
            vec![
                new_move(&*cat, "a", &["cold"]),
                new_move(&*cat, "c", &["cold"]),
                new_move(&*cat, "d", &["cold"]),
            ],
            0,
        )
        .unwrap();
    cat.set_move_state(tasks[0].id, MoveState::Aborted, Some("budget".into()), 1)
        .unwrap();
    let all = cat.moves(10, false).unwrap();
    assert_eq!(
        all.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
        ["d", "c", "a"]
    );
    assert_eq!(cat.moves(10, true).unwrap().len(), 2);
    drop(cat);
    let cat = reopen(&dir);
    let t = cat.move_task(tasks[0].id).unwrap().unwrap();
    assert_eq!(t.state, MoveState::Aborted);
    assert_eq!(t.reason.as_deref(), Some("budget"));
    assert!(cat.move_task(9999).unwrap().is_none());
}

#[test]
fn a_move_back_onto_a_location_still_waiting_for_deletion_is_refused() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["x"], &["hot"])).unwrap();
    let away = cat
        .create_moves(vec![new_move(&*cat, "k", &["cold"])], 0)
        .unwrap()
        .remove(0);
    cat.set_move_state(away.id, MoveState::Copying, None, 1)
        .unwrap();
    cat.set_move_state(away.id, MoveState::Verified, None, 2)
        .unwrap();
    assert_eq!(
        cat.commit_move(away.id, 3).unwrap().state,
        MoveState::Committed
    );
    // (hot, x) now waits for the reaper; moving back to hot must not commit until it is gone.
    let pending = cat
        .pending_garbage(&[("hot".to_owned(), "x".to_owned())].into_iter().collect())
        .unwrap();
    assert_eq!(pending.len(), 1);
    let back = cat
        .create_moves(vec![new_move(&*cat, "k", &["hot"])], 4)
        .unwrap()
        .remove(0);
    cat.set_move_state(back.id, MoveState::Copying, None, 5)
        .unwrap();
    cat.set_move_state(back.id, MoveState::Verified, None, 6)
        .unwrap();
    let refused = cat.commit_move(back.id, 7).unwrap();
    assert_eq!(refused.state, MoveState::Aborted);
    assert_eq!(
        cat.get_object("b", "k").unwrap().unwrap().replicas,
        ["cold"]
    );
    // Once the reaper is done, the same move commits.
    let g = cat.garbage(10).unwrap();
    cat.remove_garbage(&g).unwrap();
    let again = cat
        .create_moves(vec![new_move(&*cat, "k", &["hot"])], 8)
        .unwrap()
        .remove(0);
    cat.set_move_state(again.id, MoveState::Copying, None, 9)
        .unwrap();
    cat.set_move_state(again.id, MoveState::Verified, None, 10)
        .unwrap();
    assert_eq!(
        cat.commit_move(again.id, 11).unwrap().state,
        MoveState::Committed
    );
}
