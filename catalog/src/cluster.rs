//! Leases and node heartbeats in the embedded catalog. One process owns a redb file, so a lease only ever
//! has holders from that process; the table still keeps [`crate::Catalog::acquire_lease`]'s contract (one
//! holder at a time, expiry on the catalog's clock) so that both implementations pass the same tests.

use redb::ReadableTable;

use crate::RedbCatalog;
use crate::error::{Result, StorageContext};
use crate::schema::{self, LEASES, LEASES_NAME, NODES, NODES_NAME, SECRETS};
use crate::{LeaseRecord, NodeRecord};

impl RedbCatalog {
    pub fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<LeaseRecord>> {
        const OP: &str = "acquire_lease";
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(LEASES).ctx(OP)?;
            let now = schema::now_ms();
            let current: Option<LeaseRecord> = match table.get(name).ctx(OP)? {
                Some(v) => Some(schema::decode(LEASES_NAME, || name.to_owned(), v.value())?),
                None => None,
            };
            if let Some(c) = &current
                && c.holder != holder
                && c.expires_ms > now
            {
                return Ok(None);
            }
            let lease = LeaseRecord {
                name: name.to_owned(),
                holder: holder.to_owned(),
                expires_ms: now.saturating_add(ttl_ms),
            };
            table
                .insert(name, schema::encode(OP, &lease)?.as_slice())
                .ctx(OP)?;
            Ok(Some(lease))
        })
    }

    pub fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        const OP: &str = "release_lease";
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(LEASES).ctx(OP)?;
            let held = match table.get(name).ctx(OP)? {
                Some(v) => {
                    schema::decode::<LeaseRecord>(LEASES_NAME, || name.to_owned(), v.value())?
                        .holder
                        == holder
                }
                None => false,
            };
            if held {
                table.remove(name).ctx(OP)?;
            }
            Ok(())
        })
    }

    pub fn lease(&self, name: &str) -> Result<Option<LeaseRecord>> {
        const OP: &str = "lease";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(LEASES).ctx(OP)?;
        match table.get(name).ctx(OP)? {
            Some(v) => schema::decode(LEASES_NAME, || name.to_owned(), v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn heartbeat(&self, mut node: NodeRecord) -> Result<NodeRecord> {
        const OP: &str = "heartbeat";
        node.heartbeat_ms = schema::now_ms();
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(NODES).ctx(OP)?;
            table
                .insert(node.node.as_str(), schema::encode(OP, &node)?.as_slice())
                .ctx(OP)?;
            Ok(())
        })?;
        Ok(node)
    }

    pub fn nodes(&self) -> Result<(Vec<NodeRecord>, i64)> {
        const OP: &str = "nodes";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(NODES).ctx(OP)?;
        let mut out = Vec::new();
        for entry in table.iter().ctx(OP)? {
            let (k, v) = entry.ctx(OP)?;
            let id = k.value().to_owned();
            out.push(schema::decode(NODES_NAME, || id, v.value())?);
        }
        Ok((out, schema::now_ms()))
    }

    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        const OP: &str = "secret";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(SECRETS).ctx(OP)?;
        Ok(table.get(name).ctx(OP)?.map(|v| v.value().to_vec()))
    }

    pub fn swap_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool> {
        const OP: &str = "swap_secret";
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(SECRETS).ctx(OP)?;
            let current = table.get(name).ctx(OP)?.map(|v| v.value().to_vec());
            if current.as_deref() != expected {
                return Ok(false);
            }
            table.insert(name, value).ctx(OP)?;
            Ok(true)
        })
    }
}
