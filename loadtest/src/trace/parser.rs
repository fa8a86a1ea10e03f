//! A streaming, allocation-free (per line) parser that counts bad lines
//! instead of failing on them.

use std::io::{self, BufRead};

use serde::Serialize;

use super::record::{Op, Record};

/// Lines longer than this many bytes are rejected as [`BadLineKind::TooLong`]
/// without being buffered whole.
pub const MAX_LINE_BYTES: usize = 4096;

/// How many bad lines [`ParseStats`] keeps as examples.
const MAX_EXAMPLES: usize = 10;

/// How much of a bad line an example keeps.
const EXAMPLE_CHARS: usize = 120;

/// Why a line was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadLineKind {
    /// Fewer than the three mandatory fields.
    MissingFields,
    /// The timestamp is not a non-negative integer that fits in u64.
    BadTimestamp,
    /// The operation is not one of the supported `REST.*` names.
    UnknownOp,
    /// The size is not a non-negative integer that fits in u64.
    BadSize,
    /// A range bound is not an integer, only one bound is given, the
    /// start is after the end, or the operation is not a GET.
    BadRange,
    /// More than six fields.
    TooManyFields,
    /// Longer than [`MAX_LINE_BYTES`].
    TooLong,
    /// Not valid UTF-8.
    NotUtf8,
}

impl BadLineKind {
    /// Every kind, in a fixed order.
    pub const ALL: [BadLineKind; 8] = [
        BadLineKind::MissingFields,
        BadLineKind::BadTimestamp,
        BadLineKind::UnknownOp,
        BadLineKind::BadSize,
        BadLineKind::BadRange,
        BadLineKind::TooManyFields,
        BadLineKind::TooLong,
        BadLineKind::NotUtf8,
    ];

    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            BadLineKind::MissingFields => "missing_fields",
            BadLineKind::BadTimestamp => "bad_timestamp",
            BadLineKind::UnknownOp => "unknown_op",
            BadLineKind::BadSize => "bad_size",
            BadLineKind::BadRange => "bad_range",
            BadLineKind::TooManyFields => "too_many_fields",
            BadLineKind::TooLong => "too_long",
            BadLineKind::NotUtf8 => "not_utf8",
        }
    }

    fn index(self) -> usize {
        BadLineKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default()
    }
}

/// One rejected line kept as an example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected.
    pub kind: BadLineKind,
    /// The start of the line (lossy UTF-8, at most 120 characters).
    pub text: String,
}

/// What a [`TraceReader`] has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Lines read, including blank, comment and bad ones.
    pub lines: u64,
    /// Lines returned as records.
    pub records: u64,
    /// Blank lines and `#` comments (skipped, not errors).
    pub skipped: u64,
    counts: [u64; BadLineKind::ALL.len()],
    /// The first bad lines, in order.
    pub examples: Vec<BadLine>,
}

impl ParseStats {
    /// Total bad lines.
    pub fn bad(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Bad lines of one kind.
    pub fn count(&self, kind: BadLineKind) -> u64 {
        self.counts[kind.index()]
    }

    /// `(kind, count)` for every kind with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (BadLineKind, u64)> + '_ {
        BadLineKind::ALL
            .into_iter()
            .map(|k| (k, self.count(k)))
            .filter(|(_, n)| *n > 0)
    }

    /// A JSON summary: `{"lines", "records", "skipped", "bad", "bad_by_kind", "examples"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let by_kind: serde_json::Map<String, serde_json::Value> = self
            .nonzero()
            .map(|(k, n)| (k.name().to_string(), n.into()))
            .collect();
        serde_json::json!({
            "lines": self.lines,
            "records": self.records,
            "skipped": self.skipped,
            "bad": self.bad(),
            "bad_by_kind": by_kind,
            "examples": self.examples,
        })
    }

    fn reject(&mut self, kind: BadLineKind, line: &[u8]) {
        self.counts[kind.index()] += 1;
        if self.examples.len() < MAX_EXAMPLES {
            let text: String = String::from_utf8_lossy(line)
                .chars()
                .take(EXAMPLE_CHARS)
                .collect();
            self.examples.push(BadLine {
                line: self.lines,
                kind,
                text,
            });
        }
    }
}

/// Streams [`Record`]s out of any [`BufRead`].
///
/// Contract: [`TraceReader::next_record`] returns `Ok(Some(record))` for
/// each well-formed line in order, `Ok(None)` at end of input, and `Err`
/// only for I/O errors. Malformed lines are counted in
/// [`TraceReader::stats`] and skipped. Memory use is bounded by
/// [`MAX_LINE_BYTES`] whatever the input.
pub struct TraceReader<R> {
    inner: R,
    buf: Vec<u8>,
    stats: ParseStats,
}

impl<R: BufRead> TraceReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        TraceReader {
            inner,
            buf: Vec::with_capacity(256),
            stats: ParseStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ParseStats {
        &self.stats
    }

    /// Consumes the reader, returning its counters.
    pub fn into_stats(self) -> ParseStats {
        self.stats
    }

    /// The next well-formed record, skipping (and counting) bad lines.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        let parsed = loop {
            let too_long = match read_capped_line(&mut self.inner, &mut self.buf)? {
                None => return Ok(None),
                Some(too_long) => too_long,
            };
            self.stats.lines += 1;
            if too_long {
                self.stats.reject(BadLineKind::TooLong, &self.buf);
                continue;
            }
            match parse_line(&self.buf) {
                Ok(None) => self.stats.skipped += 1,
                Err(kind) => self.stats.reject(kind, &self.buf),
                Ok(Some(p)) => break p,
            }
        };
        self.stats.records += 1;
        // parse_line checked that the id span is UTF-8 on a char boundary.
        let id = std::str::from_utf8(&self.buf[parsed.id.0..parsed.id.1])
            .map_err(|_| io::Error::other("trace parser: id span is not UTF-8"))?;
        Ok(Some(Record {
            ts_ms: parsed.ts_ms,
            op: parsed.op,
            id,
            size: parsed.size,
            range: parsed.range,
        }))
    }
}

/// A parsed line with the object id as a byte span of the line, so that
/// the caller can borrow it after the parse.
struct Parsed {
    ts_ms: u64,
    op: Op,
    id: (usize, usize),
    size: Option<u64>,
    range: Option<(u64, u64)>,
}

/// Reads one line (without its `\n` / `\r\n`) into `buf`. Returns
/// `None` at end of input, `Some(true)` if the line exceeded
/// [`MAX_LINE_BYTES`] (then `buf` holds only its start).
fn read_capped_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let mut seen_any = false;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        seen_any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        if take > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !seen_any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(too_long))
}

/// Parses one line. `Ok(None)` for blank lines and comments.
fn parse_line(line: &[u8]) -> Result<Option<Parsed>, BadLineKind> {
    let text = std::str::from_utf8(line).map_err(|_| BadLineKind::NotUtf8)?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut fields = trimmed.split_ascii_whitespace();
    let (Some(ts), Some(op), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(BadLineKind::MissingFields);
    };
    let ts_ms = parse_u64(ts).ok_or(BadLineKind::BadTimestamp)?;
    let op = Op::from_trace_str(op).ok_or(BadLineKind::UnknownOp)?;
    let size = match fields.next() {
        None => None,
        Some(s) => Some(parse_u64(s).ok_or(BadLineKind::BadSize)?),
    };
    let range = match (fields.next(), fields.next()) {
        (None, _) => None,
        (Some(_), None) => return Err(BadLineKind::BadRange),
        (Some(a), Some(b)) => {
            let start = parse_u64(a).ok_or(BadLineKind::BadRange)?;
            let end = parse_u64(b).ok_or(BadLineKind::BadRange)?;
            if start > end || op != Op::Get {
                return Err(BadLineKind::BadRange);
            }
            Some((start, end))
        }
    };
    if fields.next().is_some() {
        return Err(BadLineKind::TooManyFields);
    }
    // `id` is a subslice of `text`, which starts at `line`.
    let id_start = id.as_ptr() as usize - text.as_ptr() as usize;
    Ok(Some(Parsed {
        ts_ms,
        op,
        id: (id_start, id_start + id.len()),
        size,
        range,
    }))
}

/// Decimal digits only (no sign, no `_`), must fit in u64.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (u64, Op, String, Option<u64>, Option<(u64, u64)>);

    fn read_all(input: &[u8]) -> (Vec<Row>, ParseStats) {
        let mut r = TraceReader::new(input);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().expect("in-memory read") {
            out.push((rec.ts_ms, rec.op, rec.id.to_string(), rec.size, rec.range));
        }
        (out, r.into_stats())
    }

    #[test]
    fn good_lines_in_every_shape() {
        let input = b"1219008 REST.PUT.OBJECT 8d4fcda3d675bac9 1056\n\
1221974 REST.HEAD.OBJECT 39d177fb735ac5df 528\n\
1232524 REST.GET.OBJECT 8d4fcda3d675bac9 1056 0 1055\n\
1306315 REST.DELETE.OBJECT 8d4fcda3d675bac9\n\
1306316\tREST.COPY.OBJECT   aa 10\r\n\
1306317 REST.GET.BUCKET ab\n\
\n\
# a comment\n\
   \n\
18446744073709551615 REST.GET.OBJECT x 18446744073709551615 0 18446744073709551615";
        let (recs, stats) = read_all(input);
        assert_eq!(recs.len(), 7);
        assert_eq!(
            recs[0],
            (
                1219008,
                Op::Put,
                "8d4fcda3d675bac9".into(),
                Some(1056),
                None
            )
        );
        assert_eq!(recs[1].1, Op::Head);
        assert_eq!(recs[2].4, Some((0, 1055)));
        assert_eq!(
            recs[3],
            (1306315, Op::Delete, "8d4fcda3d675bac9".into(), None, None)
        );
        assert_eq!(recs[4], (1306316, Op::Copy, "aa".into(), Some(10), None));
        assert_eq!(recs[5].1, Op::List);
        assert_eq!(recs[6].0, u64::MAX);
        assert_eq!(recs[6].3, Some(u64::MAX));
        assert_eq!(stats.lines, 10);
        assert_eq!(stats.records, 7);
        assert_eq!(stats.skipped, 3);
        assert_eq!(stats.bad(), 0);
    }

    #[test]
    fn every_bad_kind_is_counted_and_reading_goes_on() {
        let mut input = Vec::new();
        input.extend_from_slice(b"1 REST.GET.OBJECT\n"); // missing id
        input.extend_from_slice(b"5\n"); // missing op and id
        input.extend_from_slice(b"x1 REST.GET.OBJECT a\n"); // bad ts
        input.extend_from_slice(b"-1 REST.GET.OBJECT a\n"); // negative ts
        input.extend_from_slice(b"18446744073709551616 REST.GET.OBJECT a\n"); // ts overflow
        input.extend_from_slice(b"99999999999999999999999999 REST.GET.OBJECT a\n"); // huge ts
        input.extend_from_slice(b"1 REST.PUT.PART a 5\n"); // unknown op
        input.extend_from_slice(b"1 REST.GET.OBJECT a 1e5\n"); // bad size
        input.extend_from_slice(b"1 REST.GET.OBJECT a 18446744073709551616\n"); // size overflow
        input.extend_from_slice(b"1 REST.GET.OBJECT a 10 5\n"); // half a range
        input.extend_from_slice(b"1 REST.GET.OBJECT a 10 7 5\n"); // start > end
        input.extend_from_slice(b"1 REST.GET.OBJECT a 10 0 z\n"); // non-numeric bound
        input.extend_from_slice(b"1 REST.PUT.OBJECT a 10 0 5\n"); // range on a PUT
        input.extend_from_slice(b"1 REST.GET.OBJECT a 10 0 5 9\n"); // too many
        input.extend_from_slice(b"1 REST.GET.OBJECT \xff\xfe 10\n"); // not utf-8
        input.extend_from_slice(b"1 REST.GET.OBJECT ");
        input.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES * 3));
        input.extend_from_slice(b"\n");
        input.extend_from_slice(b"7 REST.GET.OBJECT good 3\n");
        let (recs, stats) = read_all(&input);
        assert_eq!(recs, vec![(7, Op::Get, "good".into(), Some(3), None)]);
        assert_eq!(stats.lines, 17);
        assert_eq!(stats.count(BadLineKind::MissingFields), 2);
        assert_eq!(stats.count(BadLineKind::BadTimestamp), 4);
        assert_eq!(stats.count(BadLineKind::UnknownOp), 1);
        assert_eq!(stats.count(BadLineKind::BadSize), 2);
        assert_eq!(stats.count(BadLineKind::BadRange), 4);
        assert_eq!(stats.count(BadLineKind::TooManyFields), 1);
        assert_eq!(stats.count(BadLineKind::NotUtf8), 1);
        assert_eq!(stats.count(BadLineKind::TooLong), 1);
        assert_eq!(stats.bad(), 16);
        assert_eq!(stats.examples.len(), 10);
        assert_eq!(stats.examples[0].line, 1);
        assert_eq!(stats.examples[0].kind, BadLineKind::MissingFields);
        let json = stats.to_json();
        assert_eq!(json["bad"], 16);
        assert_eq!(json["bad_by_kind"]["bad_range"], 4);
    }

    #[test]
    fn last_line_without_newline_and_empty_input() {
        let (recs, stats) = read_all(b"");
        assert!(recs.is_empty());
        assert_eq!(stats.lines, 0);
        let (recs, _) = read_all(b"3 REST.HEAD.OBJECT k");
        assert_eq!(recs.len(), 1);
    }

    #[test]
    fn binary_garbage_never_panics() {
        let mut state = 0x1234_5678_u64;
        let mut input = Vec::new();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.push((state & 0xff) as u8);
        }
        let (_, stats) = read_all(&input);
        assert!(stats.lines > 0);
        assert_eq!(stats.lines, stats.records + stats.skipped + stats.bad());
    }
}
