//! Writes records in the IBM COS trace format.

use std::io::{self, Write};

use super::record::{Op, Record};

/// Writes one line per record. Buffering is the caller's choice (wrap the
/// sink in a [`std::io::BufWriter`] for files).
pub struct TraceWriter<W: Write> {
    inner: W,
    written: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Wraps a sink.
    pub fn new(inner: W) -> Self {
        TraceWriter { inner, written: 0 }
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes one record. The caller guarantees `id` is non-empty and has
    /// no whitespace (ids from [`super::TraceReader`] or the generator do);
    /// otherwise the line would not read back as the same record.
    pub fn write(&mut self, rec: &Record<'_>) -> io::Result<()> {
        write!(
            self.inner,
            "{} {} {}",
            rec.ts_ms,
            rec.op.as_trace_str(),
            rec.id
        )?;
        match (rec.size, rec.range) {
            (Some(size), Some((a, b))) if rec.op == Op::Get => {
                write!(self.inner, " {size} {a} {b}")?
            }
            (Some(size), _) => write!(self.inner, " {size}")?,
            (None, _) => {}
        }
        self.inner.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceReader;

    #[test]
    fn writes_what_the_reader_reads_back() {
        let recs = [
            Record {
                ts_ms: 0,
                op: Op::Put,
                id: "a1",
                size: Some(10),
                range: None,
            },
            Record {
                ts_ms: 5,
                op: Op::Get,
                id: "a1",
                size: Some(10),
                range: Some((2, 4)),
            },
            Record {
                ts_ms: 6,
                op: Op::Head,
                id: "a1",
                size: Some(10),
                range: None,
            },
            Record {
                ts_ms: 7,
                op: Op::List,
                id: "a",
                size: None,
                range: None,
            },
            Record {
                ts_ms: 9,
                op: Op::Delete,
                id: "a1",
                size: None,
                range: None,
            },
        ];
        let mut w = TraceWriter::new(Vec::new());
        for r in &recs {
            w.write(r).expect("vec write");
        }
        assert_eq!(w.written(), 5);
        let bytes = w.finish().expect("flush");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.starts_with("0 REST.PUT.OBJECT a1 10\n5 REST.GET.OBJECT a1 10 2 4\n"));
        let mut rd = TraceReader::new(bytes.as_slice());
        for want in &recs {
            let got = rd.next_record().expect("read").expect("record");
            assert_eq!(&got, want);
        }
        assert!(rd.next_record().expect("read").is_none());
    }
}
