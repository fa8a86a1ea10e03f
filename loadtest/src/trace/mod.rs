//! The IBM Cloud Object Storage trace format (SNIA IOTTA).
//!
//! One request per line, fields separated by ASCII whitespace:
//!
//! ```text
//! <timestamp_ms> <REST.OP.RESOURCE> <object_id> [<size> [<range_start> <range_end>]]
//! ```
//!
//! * `timestamp_ms`: milliseconds since the start of the trace (u64).
//! * `REST.OP.RESOURCE`: one of `REST.PUT.OBJECT`, `REST.GET.OBJECT`,
//!   `REST.HEAD.OBJECT`, `REST.DELETE.OBJECT`, `REST.COPY.OBJECT` and
//!   `REST.GET.BUCKET` (a listing; its `object_id` field is the prefix).
//! * `size`: the object's size in bytes.
//! * `range_start range_end`: an inclusive byte range of a ranged GET.
//!
//! [`TraceReader`] streams records without allocating per line and never
//! fails on a malformed line: each one is counted by kind in [`ParseStats`]
//! (with the first few kept as examples) and skipped. Only I/O errors stop
//! it. [`TraceWriter`] writes the same format.

mod parser;
mod record;
mod writer;

pub use parser::{BadLine, BadLineKind, MAX_LINE_BYTES, ParseStats, TraceReader};
pub use record::{Op, Record};
pub use writer::TraceWriter;
