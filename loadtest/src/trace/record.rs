//! One parsed trace record.

use std::fmt;

/// The request kind of a trace line (the `REST.OP.RESOURCE` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `REST.PUT.OBJECT`: create or overwrite an object of `size` bytes.
    Put,
    /// `REST.GET.OBJECT`: read the object, or a range of it.
    Get,
    /// `REST.HEAD.OBJECT`: read the object's metadata.
    Head,
    /// `REST.DELETE.OBJECT`: delete the object.
    Delete,
    /// `REST.COPY.OBJECT`: server-side copy; the object id is the
    /// destination, so it is a write of `size` bytes.
    Copy,
    /// `REST.GET.BUCKET`: list objects; the object id field is the prefix.
    List,
}

impl Op {
    /// Every operation, in a fixed order.
    pub const ALL: [Op; 6] = [Op::Put, Op::Get, Op::Head, Op::Delete, Op::Copy, Op::List];

    /// The trace-format name, e.g. `REST.GET.OBJECT`.
    pub fn as_trace_str(self) -> &'static str {
        match self {
            Op::Put => "REST.PUT.OBJECT",
            Op::Get => "REST.GET.OBJECT",
            Op::Head => "REST.HEAD.OBJECT",
            Op::Delete => "REST.DELETE.OBJECT",
            Op::Copy => "REST.COPY.OBJECT",
            Op::List => "REST.GET.BUCKET",
        }
    }

    /// Parses a trace-format name (exact, case-sensitive as in IBM traces).
    pub fn from_trace_str(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_trace_str() == s)
    }

    /// True for operations that write the object (PUT, COPY).
    pub fn is_write(self) -> bool {
        matches!(self, Op::Put | Op::Copy)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_trace_str())
    }
}

/// One request of a trace. `id` borrows from the reader's line buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Milliseconds since the start of the trace.
    pub ts_ms: u64,
    /// The request kind.
    pub op: Op,
    /// The object id (for [`Op::List`], the listed prefix). Never empty and
    /// never contains whitespace.
    pub id: &'a str,
    /// The object's size in bytes, if the line has it.
    pub size: Option<u64>,
    /// Inclusive byte range `(start, end)` with `start <= end`, if any.
    pub range: Option<(u64, u64)>,
}

impl Record<'_> {
    /// Bytes a GET of this record transfers, given the object's size:
    /// the range length clamped to the object, or the whole object.
    pub fn read_bytes(&self, object_size: u64) -> u64 {
        match self.range {
            Some((start, end)) if start < object_size => {
                end.min(object_size.saturating_sub(1)) - start + 1
            }
            Some(_) => 0,
            None => object_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_round_trip() {
        for op in Op::ALL {
            assert_eq!(Op::from_trace_str(op.as_trace_str()), Some(op));
        }
        assert_eq!(Op::from_trace_str("rest.get.object"), None);
        assert_eq!(Op::from_trace_str("REST.PUT.PART"), None);
    }

    #[test]
    fn read_bytes_clamps_ranges() {
        let mut r = Record {
            ts_ms: 0,
            op: Op::Get,
            id: "a",
            size: Some(100),
            range: None,
        };
        assert_eq!(r.read_bytes(100), 100);
        r.range = Some((10, 19));
        assert_eq!(r.read_bytes(100), 10);
        r.range = Some((90, 1000));
        assert_eq!(r.read_bytes(100), 10);
        r.range = Some((100, 200));
        assert_eq!(r.read_bytes(100), 0);
    }
}
