//! Move tasks: the persisted state machine of the mover.
//!
//! `Planned → Copying → Verified → Committed → SourceReleased`, or `Aborted(reason)` from any state before
//! `Committed`. The commit is one transaction that compare-and-swaps the object's replica set on the generation
//! recorded when the move was planned (and on the replica set it expects to replace), moves the dropped replicas'
//! blobs to the garbage table and marks the task `Committed` — so a crash can never leave a committed placement
//! with a task that says otherwise.

use std::collections::BTreeSet;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::RedbCatalog;
use crate::error::{CatalogError, Result, StorageContext};
use crate::objects::decode_object;
use crate::schema::{self, GARBAGE, META, META_LAST_MOVE_ID, MOVES, MOVES_NAME, OBJECTS};

/// Where a move is in its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum MoveState {
    Planned,
    Copying,
    Verified,
    Committed,
    SourceReleased,
    Aborted,
}

impl MoveState {
    /// No further transition happens from a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, MoveState::SourceReleased | MoveState::Aborted)
    }

    /// The state's name as the admin API and the test hooks spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveState::Planned => "Planned",
            MoveState::Copying => "Copying",
            MoveState::Verified => "Verified",
            MoveState::Committed => "Committed",
            MoveState::SourceReleased => "SourceReleased",
            MoveState::Aborted => "Aborted",
        }
    }

    pub(crate) fn may_become(self, next: MoveState) -> bool {
        use MoveState::*;
        matches!(
            (self, next),
            (Planned, Copying)
                | (Copying, Verified)
                | (Copying, Planned)
                | (Verified, Planned)
                | (Committed, SourceReleased)
                | (Planned | Copying | Verified, Aborted)
        )
    }
}

/// A move to be created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewMove {
    pub bucket: String,
    pub key: String,
    /// The object's generation the plan saw; the commit requires it unchanged.
    pub generation: u64,
    /// The replica set the plan saw.
    pub from: Vec<String>,
    /// The replica set after the move.
    pub to: Vec<String>,
    pub bytes: u64,
    /// Which plan asked for it (free text).
    #[serde(default)]
    pub plan_id: Option<String>,
}

/// A persisted move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MoveTask {
    pub id: u64,
    pub bucket: String,
    pub key: String,
    pub generation: u64,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub bytes: u64,
    pub state: MoveState,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// `(backend, blob)` pairs the commit handed to the garbage table.
    #[serde(default)]
    pub released: Vec<(String, String)>,
    #[serde(default)]
    pub plan_id: Option<String>,
}

impl MoveTask {
    /// Backends that receive a new copy.
    pub fn destinations(&self) -> Vec<String> {
        self.to
            .iter()
            .filter(|b| !self.from.contains(b))
            .cloned()
            .collect()
    }
}

/// Terminal tasks kept for history; older ones are trimmed when new moves are created.
pub const MOVE_HISTORY: usize = 10_000;

pub(crate) fn decode_move(id: u64, bytes: &[u8]) -> Result<MoveTask> {
    schema::decode(MOVES_NAME, || id.to_string(), bytes)
}

impl RedbCatalog {
    /// Persists new moves in state `Planned` and returns them with their ids.
    pub fn create_moves(&self, moves: Vec<NewMove>, now_ms: i64) -> Result<Vec<MoveTask>> {
        const OP: &str = "create_moves";
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        self.write_durable(OP, |txn| {
            let mut meta = txn.open_table(META).ctx(OP)?;
            let first =
                schema::reserve_counter(&mut meta, META_LAST_MOVE_ID, moves.len() as u64, OP)?;
            let mut table = txn.open_table(MOVES).ctx(OP)?;
            let mut out = Vec::with_capacity(moves.len());
            for (i, m) in moves.into_iter().enumerate() {
                let task = MoveTask {
                    id: first + i as u64,
                    bucket: m.bucket,
                    key: m.key,
                    generation: m.generation,
                    from: m.from,
                    to: m.to,
                    bytes: m.bytes,
                    state: MoveState::Planned,
                    reason: None,
                    attempts: 0,
                    created_ms: now_ms,
                    updated_ms: now_ms,
                    released: Vec::new(),
                    plan_id: m.plan_id,
                };
                table
                    .insert(task.id, schema::encode(OP, &task)?.as_slice())
                    .ctx(OP)?;
                out.push(task);
            }
            // Trim the oldest terminal tasks beyond the history bound.
            let total = table.len().ctx(OP)? as usize;
            if total > MOVE_HISTORY {
                let mut excess = total - MOVE_HISTORY;
                let mut doomed = Vec::new();
                for entry in table.iter().ctx(OP)? {
                    if excess == 0 {
                        break;
                    }
                    let (k, v) = entry.ctx(OP)?;
                    if decode_move(k.value(), v.value())?.state.is_terminal() {
                        doomed.push(k.value());
                        excess -= 1;
                    }
                }
                for id in doomed {
                    table.remove(id).ctx(OP)?;
                }
            }
            Ok(out)
        })
    }

    /// One task.
    pub fn move_task(&self, id: u64) -> Result<Option<MoveTask>> {
        const OP: &str = "move_task";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(MOVES).ctx(OP)?;
        match table.get(id).ctx(OP)? {
            Some(v) => Ok(Some(decode_move(id, v.value())?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` tasks, newest first; with `active_only`, only those not in a terminal state.
    pub fn moves(&self, limit: usize, active_only: bool) -> Result<Vec<MoveTask>> {
        const OP: &str = "moves";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(MOVES).ctx(OP)?;
        let mut out = Vec::new();
        for entry in table.iter().ctx(OP)?.rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.ctx(OP)?;
            let task = decode_move(k.value(), v.value())?;
            if !active_only || !task.state.is_terminal() {
                out.push(task);
            }
        }
        Ok(out)
    }

    /// Moves a task to `state` (with a reason for `Aborted`). Refuses transitions the protocol does not allow,
    /// including any into `Committed` (use [`Catalog::commit_move`]).
    pub fn set_move_state(
        &self,
        id: u64,
        state: MoveState,
        reason: Option<String>,
        now_ms: i64,
    ) -> Result<MoveTask> {
        const OP: &str = "set_move_state";
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(MOVES).ctx(OP)?;
            let mut task = match table.get(id).ctx(OP)? {
                Some(v) => decode_move(id, v.value())?,
                None => return Err(CatalogError::InvalidArgument(format!("no move task {id}"))),
            };
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
            task.reason = reason;
            task.updated_ms = now_ms;
            table
                .insert(id, schema::encode(OP, &task)?.as_slice())
                .ctx(OP)?;
            Ok(task)
        })
    }

    /// The commit of a `Verified` move, atomically: if the object still has the generation and replica set the
    /// move was planned against, its replicas become `to`, the blobs on dropped backends go to the garbage table
    /// (the reaper deletes them once no reader holds them) and the task becomes `Committed`. Otherwise nothing
    /// about the object changes and the task becomes `Aborted` ("object changed since the plan").
    pub fn commit_move(&self, id: u64, now_ms: i64) -> Result<MoveTask> {
        const OP: &str = "commit_move";
        self.write_durable(OP, |txn| {
            let mut moves = txn.open_table(MOVES).ctx(OP)?;
            let mut task = match moves.get(id).ctx(OP)? {
                Some(v) => decode_move(id, v.value())?,
                None => return Err(CatalogError::InvalidArgument(format!("no move task {id}"))),
            };
            if task.state != MoveState::Verified {
                return Err(CatalogError::InvalidArgument(format!(
                    "move {id} is {}, only a Verified move can commit",
                    task.state.as_str()
                )));
            }
            let raw_key = schema::object_key(&task.bucket, &task.key)?;
            let mut objects = txn.open_table(OBJECTS).ctx(OP)?;
            let current = match objects.get(raw_key.as_slice()).ctx(OP)? {
                Some(v) => Some(decode_object(&raw_key, v.value())?),
                None => None,
            };
            task.updated_ms = now_ms;
            match current {
                Some(mut rec) if rec.generation == task.generation && rec.replicas == task.from => {
                    let before = rec.blob_locations();
                    rec.replicas = task.to.clone();
                    rec.moved_ms = now_ms;
                    let after = rec.blob_locations();
                    let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
                    let new_locations: BTreeSet<_> = after.difference(&before).cloned().collect();
                    let doomed = crate::garbage::pending_in(&garbage, &new_locations, OP)?;
                    if !doomed.is_empty() {
                        // The reaper would delete the new copy: refuse (the mover waits for the reaper first).
                        task.state = MoveState::Aborted;
                        task.reason = Some(format!(
                            "destination blobs still wait for deletion: {doomed:?}"
                        ));
                        moves
                            .insert(id, schema::encode(OP, &task)?.as_slice())
                            .ctx(OP)?;
                        return Ok(task);
                    }
                    let dead: BTreeSet<_> = before.difference(&after).cloned().collect();
                    let mut meta = txn.open_table(META).ctx(OP)?;
                    rec.generation =
                        schema::reserve_counter(&mut meta, schema::META_LAST_GENERATION, 1, OP)?;
                    objects
                        .insert(raw_key.as_slice(), schema::encode(OP, &rec)?.as_slice())
                        .ctx(OP)?;
                    // Garbage is stamped with wall-clock time: the reaper's grace period is measured on it.
                    crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), OP)?;
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
            moves
                .insert(id, schema::encode(OP, &task)?.as_slice())
                .ctx(OP)?;
            Ok(task)
        })
    }
}
