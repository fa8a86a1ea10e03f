//! The sealed object format.
//!
//! Every blob a [`crate::Backend`] stores is *sealed*: split into frames,
//! each frame encrypted and authenticated with Fernet (AES-128-CBC +
//! HMAC-SHA256) under one of the backend's keys.
//!
//! # Layout
//!
//! ```text
//! header (16 bytes)
//!   0..4    magic  b"STRS"
//!   4       format version, u8 = 1
//!   5..8    reserved, zero
//!   8..12   frame_size, u32 little-endian (plaintext data bytes per full frame)
//!   12..16  key_id, u32 little-endian (keyring id of the sealing key)
//! frame 0, frame 1, ... frame n-1
//! ```
//!
//! The object's plaintext is cut into `data_i` of exactly `frame_size` bytes,
//! except the last which holds the remaining 1..=frame_size bytes; an empty
//! object has no frames at all (just the header). Frame `i` seals
//! `plain_i = (i as u64).to_le_bytes() ‖ data_i`, so a frame moved to another
//! position (swapped, reordered, duplicated) authenticates but carries the
//! wrong index and is rejected.
//!
//! A frame is stored as the Fernet token in **binary** form, i.e. the
//! base64url-decoded token:
//!
//! ```text
//! 0x80 | timestamp u64 BE | IV (16) | AES-128-CBC ciphertext, PKCS7 | HMAC-SHA256 (32)
//! ```
//!
//! The ciphertext of `p` plaintext bytes is `(p / 16 + 1) * 16` bytes, so a
//! frame's size depends only on its data length ([`token_len`]), an object's
//! stored size only on its plaintext size and frame size ([`sealed_len`]), and
//! the stored bytes covering any plaintext range can be computed without
//! reading anything ([`frame_span`]).
//!
//! Tokens are opened with Fernet's `decrypt` without a TTL. Note that the
//! fernet crate still rejects tokens whose timestamp is more than 60 s in the
//! *future* of the reading host's clock, so a writer whose clock runs ahead
//! produces frames that are unreadable until the reader's clock catches up.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use fernet::Fernet;

use crate::error::SealError;

/// Header magic.
pub const MAGIC: [u8; 4] = *b"STRS";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the sealed header in bytes.
pub const HEADER_LEN: u64 = 16;
/// Largest frame size accepted in a header (bounds reader memory when a
/// header is corrupt or hostile).
pub const MAX_FRAME_SIZE: u32 = 64 << 20;
/// Bytes of the frame index prepended to each frame's data before sealing.
pub const INDEX_LEN: usize = 8;

/// Length of the binary Fernet token sealing `plain_len` plaintext bytes
/// (`plain_len` includes the 8-byte frame index):
/// version 1 + timestamp 8 + IV 16 + HMAC 32 = 57 bytes of overhead plus
/// the PKCS7-padded ciphertext.
pub fn token_len(plain_len: usize) -> usize {
    57 + ((plain_len / 16) + 1) * 16
}

/// Stored size of a frame holding `data_len` plaintext data bytes.
fn frame_stored_len(data_len: u64) -> u64 {
    // data_len <= MAX_FRAME_SIZE, so it fits in usize on every supported target.
    token_len(INDEX_LEN + data_len as usize) as u64
}

/// Total stored size of an object of `plain_size` plaintext bytes sealed with
/// `frame_size`-byte frames (header included). `frame_size` must be > 0.
pub fn sealed_len(plain_size: u64, frame_size: u32) -> u64 {
    let f = u64::from(frame_size.max(1));
    let full = plain_size / f;
    let rest = plain_size % f;
    let last = if rest > 0 { frame_stored_len(rest) } else { 0 };
    // Saturating: absurd sizes (e.g. from a corrupt catalog) give a huge
    // length that no stored blob matches, instead of overflowing.
    HEADER_LEN
        .saturating_add(full.saturating_mul(frame_stored_len(f)))
        .saturating_add(last)
}

/// The frames covering a plaintext range and where they are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSpan {
    /// Index of the first frame holding bytes of the range.
    pub first_frame: u64,
    /// Index of the last frame holding bytes of the range (inclusive).
    pub last_frame: u64,
    /// Stored byte range (absolute offsets in the blob) of frames
    /// `first_frame..=last_frame`.
    pub stored: Range<u64>,
}

/// Plaintext data length of frame `index` of an object of `plain_size` bytes.
pub fn frame_data_len(index: u64, plain_size: u64, frame_size: u32) -> u64 {
    let f = u64::from(frame_size.max(1));
    plain_size.saturating_sub(index.saturating_mul(f)).min(f)
}

/// The frames and stored bytes needed to read plaintext `range` of an object
/// of `plain_size` bytes sealed with `frame_size`-byte frames.
///
/// The caller guarantees `range` is non-empty and within `0..plain_size`, and
/// `frame_size > 0`; for other inputs the result is unspecified (but this
/// function does not panic).
pub fn frame_span(range: Range<u64>, plain_size: u64, frame_size: u32) -> FrameSpan {
    let f = u64::from(frame_size.max(1));
    let full_len = frame_stored_len(f);
    let first_frame = range.start / f;
    let last_frame = range.end.saturating_sub(1).max(range.start) / f;
    let start = HEADER_LEN.saturating_add(first_frame.saturating_mul(full_len));
    let end = HEADER_LEN
        .saturating_add(last_frame.saturating_mul(full_len))
        .saturating_add(frame_stored_len(frame_data_len(
            last_frame, plain_size, frame_size,
        )));
    FrameSpan {
        first_frame,
        last_frame,
        stored: start..end,
    }
}

/// A parsed sealed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealHeader {
    /// Format version (always [`FORMAT_VERSION`] once parsed).
    pub version: u8,
    /// Plaintext data bytes per full frame (1..=[`MAX_FRAME_SIZE`]).
    pub frame_size: u32,
    /// Keyring id of the key that sealed every frame.
    pub key_id: u32,
}

impl SealHeader {
    /// The 16-byte encoding of this header.
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = self.version;
        h[8..12].copy_from_slice(&self.frame_size.to_le_bytes());
        h[12..16].copy_from_slice(&self.key_id.to_le_bytes());
        h
    }
}

/// Parses and validates the first 16 bytes of `bytes` as a sealed header.
/// Extra bytes after the header are ignored.
pub fn parse_header(bytes: &[u8]) -> Result<SealHeader, SealError> {
    let Some(h) = bytes.first_chunk::<16>() else {
        return Err(SealError::ShortHeader { len: bytes.len() });
    };
    if h[0..4] != MAGIC {
        return Err(SealError::BadMagic);
    }
    if h[4] != FORMAT_VERSION {
        return Err(SealError::UnsupportedVersion(h[4]));
    }
    if h[5..8] != [0, 0, 0] {
        return Err(SealError::ReservedNotZero);
    }
    let frame_size = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if frame_size == 0 || frame_size > MAX_FRAME_SIZE {
        return Err(SealError::BadFrameSize(frame_size));
    }
    let key_id = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    Ok(SealHeader {
        version: h[4],
        frame_size,
        key_id,
    })
}

/// Streaming encoder of the sealed format.
///
/// Feed plaintext with [`Sealer::push`] in pieces of any size; it returns the
/// frames completed so far. [`Sealer::finish`] seals the final partial frame.
/// The caller writes [`Sealer::header`] first, then every returned frame in
/// order. The sealer buffers at most one frame of plaintext.
pub struct Sealer {
    fernet: Fernet,
    key_id: u32,
    frame_size: u32,
    /// Index of the frame being filled.
    next_index: u64,
    /// `next_index` LE followed by the data gathered so far for that frame.
    buf: Vec<u8>,
}

impl Sealer {
    /// A sealer writing frames of `frame_size` data bytes under `fernet`,
    /// recording `key_id` in the header.
    ///
    /// # Panics
    /// If `frame_size` is 0 or above [`MAX_FRAME_SIZE`] (a programming error:
    /// frame sizes come from configuration, not from stored data).
    pub fn new(fernet: Fernet, key_id: u32, frame_size: u32) -> Sealer {
        assert!(
            frame_size > 0 && frame_size <= MAX_FRAME_SIZE,
            "frame size {frame_size} outside 1..={MAX_FRAME_SIZE}"
        );
        let mut buf = Vec::with_capacity(INDEX_LEN + frame_size as usize);
        buf.extend_from_slice(&0u64.to_le_bytes());
        Sealer {
            fernet,
            key_id,
            frame_size,
            next_index: 0,
            buf,
        }
    }

    /// The 16-byte header for objects this sealer writes.
    pub fn header(&self) -> Bytes {
        let h = SealHeader {
            version: FORMAT_VERSION,
            frame_size: self.frame_size,
            key_id: self.key_id,
        };
        Bytes::copy_from_slice(&h.encode())
    }

    /// Plaintext bytes buffered in the current, not yet sealed, frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - INDEX_LEN
    }

    /// Adds plaintext; returns the sealed frames completed by it, in order
    /// (possibly none). Output size is about `data.len()`, so callers that
    /// bound memory should push at most a frame or so at a time.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let frame_size = self.frame_size as usize;
        let mut out = Vec::new();
        while !data.is_empty() {
            let room = frame_size - self.buffered();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffered() == frame_size {
                out.push(self.seal_current());
            }
        }
        out
    }

    /// Seals and returns the final partial frame, if any data is buffered.
    pub fn finish(mut self) -> Option<Bytes> {
        (self.buffered() > 0).then(|| self.seal_current())
    }

    /// Seals the buffered frame and starts the next one.
    fn seal_current(&mut self) -> Bytes {
        let token = self.fernet.encrypt(&self.buf);
        // The fernet crate emits padded urlsafe base64; not decoding it
        // would be a bug there, not a data error.
        let binary = URL_SAFE
            .decode(token.as_bytes())
            .expect("fernet tokens are urlsafe base64");
        debug_assert_eq!(binary.len(), token_len(self.buf.len()));
        self.next_index += 1;
        self.buf.clear();
        self.buf.extend_from_slice(&self.next_index.to_le_bytes());
        Bytes::from(binary)
    }
}

/// Opens the binary token of frame `index`: verifies its HMAC and decrypts
/// it with `fernet` (no TTL), checks the embedded index equals `index`, and
/// returns the frame's data. Does not check the data length; callers that
/// know the expected length must compare it.
pub fn open_frame(fernet: &Fernet, index: u64, token: &[u8]) -> Result<Bytes, SealError> {
    let encoded = URL_SAFE.encode(token);
    let plain = fernet
        .decrypt(&encoded)
        .map_err(|_| SealError::Decrypt { index })?;
    let Some(found) = plain.first_chunk::<INDEX_LEN>() else {
        return Err(SealError::ShortPlaintext {
            index,
            len: plain.len(),
        });
    };
    let found = u64::from_le_bytes(*found);
    if found != index {
        return Err(SealError::WrongIndex {
            expected: index,
            found,
        });
    }
    Ok(Bytes::from(plain).slice(INDEX_LEN..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Fernet {
        Fernet::new(&Fernet::generate_key()).expect("key")
    }

    /// Seals `data` pushing it in `step`-byte pieces; returns header ‖ frames
    /// and the individual frames.
    fn seal(fernet: &Fernet, data: &[u8], frame: u32, step: usize) -> (Vec<u8>, Vec<Bytes>) {
        let mut s = Sealer::new(fernet.clone(), 7, frame);
        let mut out = s.header().to_vec();
        let mut frames = Vec::new();
        for piece in data.chunks(step.max(1)) {
            frames.extend(s.push(piece));
        }
        frames.extend(s.finish());
        for f in &frames {
            out.extend_from_slice(f);
        }
        (out, frames)
    }

    #[test]
    fn token_len_matches_fernet() {
        let f = key();
        for n in [0usize, 1, 8, 15, 16, 17, 31, 32, 100, 1000] {
            let t = URL_SAFE.decode(f.encrypt(&vec![0u8; n])).expect("b64");
            assert_eq!(t.len(), token_len(n), "plain len {n}");
        }
    }

    #[test]
    fn sealed_len_matches_sealer_for_edge_sizes() {
        let f = key();
        let frame = 64u32;
        let fs = frame as u64;
        for size in [0, 1, fs - 1, fs, fs + 1, 3 * fs + fs / 2, 4 * fs] {
            let data = vec![0xA5u8; size as usize];
            for step in [1usize, 7, 64, 1000] {
                let (out, frames) = seal(&f, &data, frame, step);
                assert_eq!(out.len() as u64, sealed_len(size, frame), "size {size}");
                assert_eq!(frames.len() as u64, size.div_ceil(fs), "size {size}");
            }
        }
        assert_eq!(sealed_len(0, frame), HEADER_LEN);
        assert_eq!(sealed_len(u64::MAX, 1), u64::MAX);
        let span = frame_span(u64::MAX - 1..u64::MAX, u64::MAX, 1);
        assert_eq!(span.stored.end, u64::MAX);
    }

    #[test]
    fn frame_span_matches_sealer_layout() {
        let f = key();
        let frame = 64u32;
        let fs = frame as u64;
        for size in [1, fs - 1, fs, fs + 1, 3 * fs + fs / 2] {
            let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let (out, frames) = seal(&f, &data, frame, 13);
            // Absolute offsets of each frame in `out`.
            let mut offsets = vec![HEADER_LEN];
            for fr in &frames {
                offsets.push(offsets.last().copied().expect("non-empty") + fr.len() as u64);
            }
            assert_eq!(*offsets.last().expect("end"), out.len() as u64);
            let mut ranges = vec![0..1, size - 1..size, 0..size];
            if size > fs {
                ranges.push(fs - 1..fs + 1);
                ranges.push(fs..size);
            }
            for r in ranges {
                let span = frame_span(r.clone(), size, frame);
                assert_eq!(span.first_frame, r.start / fs, "{r:?} of {size}");
                assert_eq!(span.last_frame, (r.end - 1) / fs, "{r:?} of {size}");
                assert_eq!(span.stored.start, offsets[span.first_frame as usize]);
                assert_eq!(span.stored.end, offsets[span.last_frame as usize + 1]);
                // Opening the span's frames yields the range's plaintext.
                let mut plain = Vec::new();
                for i in span.first_frame..=span.last_frame {
                    let tok = &out[offsets[i as usize] as usize..offsets[i as usize + 1] as usize];
                    plain.extend_from_slice(&open_frame(&f, i, tok).expect("open"));
                }
                let skip = (r.start - span.first_frame * fs) as usize;
                let len = (r.end - r.start) as usize;
                assert_eq!(
                    &plain[skip..skip + len],
                    &data[r.start as usize..r.end as usize]
                );
            }
        }
    }

    #[test]
    fn header_round_trip_and_rejections() {
        let s = Sealer::new(key(), 42, 4096);
        let h = s.header();
        assert_eq!(&h[..4], b"STRS");
        let parsed = parse_header(&h).expect("parse");
        assert_eq!(
            parsed,
            SealHeader {
                version: 1,
                frame_size: 4096,
                key_id: 42
            }
        );
        assert_eq!(
            parse_header(&h[..15]),
            Err(SealError::ShortHeader { len: 15 })
        );
        let mut bad = h.to_vec();
        bad[0] = b'X';
        assert_eq!(parse_header(&bad), Err(SealError::BadMagic));
        let mut bad = h.to_vec();
        bad[4] = 2;
        assert_eq!(parse_header(&bad), Err(SealError::UnsupportedVersion(2)));
        let mut bad = h.to_vec();
        bad[6] = 1;
        assert_eq!(parse_header(&bad), Err(SealError::ReservedNotZero));
        let mut bad = h.to_vec();
        bad[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(parse_header(&bad), Err(SealError::BadFrameSize(0)));
    }

    #[test]
    fn open_frame_rejects_tampering_reordering_and_wrong_key() {
        let f = key();
        let (_, frames) = seal(&f, &[9u8; 100], 40, 100);
        assert_eq!(frames.len(), 3);
        assert_eq!(open_frame(&f, 2, &frames[2]).expect("open").len(), 20);
        assert_eq!(
            open_frame(&f, 0, &frames[1]),
            Err(SealError::WrongIndex {
                expected: 0,
                found: 1
            })
        );
        let mut flipped = frames[0].to_vec();
        flipped[40] ^= 1;
        assert_eq!(
            open_frame(&f, 0, &flipped),
            Err(SealError::Decrypt { index: 0 })
        );
        assert_eq!(
            open_frame(&f, 0, &frames[0][..frames[0].len() - 1]),
            Err(SealError::Decrypt { index: 0 })
        );
        assert_eq!(open_frame(&f, 0, &[]), Err(SealError::Decrypt { index: 0 }));
        assert_eq!(
            open_frame(&key(), 0, &frames[0]),
            Err(SealError::Decrypt { index: 0 })
        );
    }
}
