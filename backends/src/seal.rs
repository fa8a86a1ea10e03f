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
//! Frames are sealed and opened by [`FrameKey`], which implements the Fernet
//! token format directly on binary tokens with aws-lc's AES and HMAC (AES-NI,
//! SHA extensions where the CPU has them): no base64 round trip, one copy per
//! frame. Tokens are bit-compatible with the `fernet` crate's (tests open each
//! one's tokens with the other). Tokens are opened without a TTL and whatever
//! their timestamp (the `fernet` crate refuses timestamps more than 60 s in the
//! reader's future; a frame's timestamp carries no meaning here).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use aws_lc_rs::cipher::{
    AES_128, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;

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
    key: FrameKey,
    key_id: u32,
    frame_size: u32,
    /// Index of the frame being filled.
    next_index: u64,
    /// `next_index` LE followed by the data gathered so far for that frame.
    buf: Vec<u8>,
}

impl Sealer {
    /// A sealer writing frames of `frame_size` data bytes under `key`,
    /// recording `key_id` in the header.
    ///
    /// # Panics
    /// If `frame_size` is 0 or above [`MAX_FRAME_SIZE`] (a programming error:
    /// frame sizes come from configuration, not from stored data).
    pub fn new(key: FrameKey, key_id: u32, frame_size: u32) -> Sealer {
        assert!(
            frame_size > 0 && frame_size <= MAX_FRAME_SIZE,
            "frame size {frame_size} outside 1..={MAX_FRAME_SIZE}"
        );
        let mut buf = Vec::with_capacity(INDEX_LEN + frame_size as usize);
        buf.extend_from_slice(&0u64.to_le_bytes());
        Sealer {
            key,
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
    pub fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        self.push_unsealed(data)
            .into_iter()
            .map(|frame| frame.seal())
            .collect()
    }

    /// [`Sealer::push`] without the sealing: the frames completed by `data`, in order, each ready to be sealed
    /// by [`UnsealedFrame::seal`] on any thread (a writer seals several at once on the blocking pool; the sealed
    /// frames must be stored in this order).
    pub fn push_unsealed(&mut self, mut data: &[u8]) -> Vec<UnsealedFrame> {
        let frame_size = self.frame_size as usize;
        let mut out = Vec::new();
        while !data.is_empty() {
            let room = frame_size - self.buffered();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffered() == frame_size {
                out.push(self.take_current());
            }
        }
        out
    }

    /// Seals and returns the final partial frame, if any data is buffered.
    pub fn finish(self) -> Option<Bytes> {
        (self.buffered() > 0).then(|| self.key.seal(&self.buf))
    }

    /// Hands out the buffered frame, unsealed, and starts the next one.
    fn take_current(&mut self) -> UnsealedFrame {
        self.next_index += 1;
        let mut next = Vec::with_capacity(INDEX_LEN + self.frame_size as usize);
        next.extend_from_slice(&self.next_index.to_le_bytes());
        UnsealedFrame {
            key: self.key.clone(),
            plain: std::mem::replace(&mut self.buf, next),
        }
    }
}

/// A full frame's plaintext (its index and data) with the key to seal it: [`Sealer::push_unsealed`].
pub struct UnsealedFrame {
    key: FrameKey,
    plain: Vec<u8>,
}

impl UnsealedFrame {
    /// Data bytes in the frame.
    pub fn len(&self) -> usize {
        self.plain.len() - INDEX_LEN
    }

    /// Whether the frame holds no data (never, for a frame [`Sealer::push_unsealed`] returns).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sealed frame: a Fernet token of the index and data.
    pub fn seal(self) -> Bytes {
        self.key.seal(&self.plain)
    }
}

/// Fernet's version byte.
const FERNET_VERSION: u8 = 0x80;
/// Version, timestamp and IV: the bytes before the ciphertext.
const TOKEN_PREFIX: usize = 1 + 8 + 16;
/// The HMAC-SHA256 tag closing a token.
const TAG_LEN: usize = 32;

/// One Fernet key (128-bit signing key ‖ 128-bit encryption key), ready to seal and open binary tokens.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct FrameKey(Arc<FrameKeyInner>);

struct FrameKeyInner {
    signing: hmac::Key,
    encrypting: PaddedBlockEncryptingKey,
    decrypting: PaddedBlockDecryptingKey,
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FrameKey(..)")
    }
}

impl FrameKey {
    /// The key of a Fernet key string (32 bytes in urlsafe base64, padded or not), or `None` if it is not one.
    pub fn from_fernet_key(encoded: &str) -> Option<FrameKey> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .ok()?;
        let raw: [u8; 32] = raw.try_into().ok()?;
        FrameKey::from_bytes(&raw)
    }

    fn from_bytes(raw: &[u8; 32]) -> Option<FrameKey> {
        let (signing, encryption) = raw.split_at(16);
        let cipher = || UnboundCipherKey::new(&AES_128, encryption).ok();
        Some(FrameKey(Arc::new(FrameKeyInner {
            signing: hmac::Key::new(hmac::HMAC_SHA256, signing),
            encrypting: PaddedBlockEncryptingKey::cbc_pkcs7(cipher()?).ok()?,
            decrypting: PaddedBlockDecryptingKey::cbc_pkcs7(cipher()?).ok()?,
        })))
    }

    /// A new random key, as a Fernet key string (what keyring files hold).
    pub fn generate() -> String {
        let mut raw = [0u8; 32];
        // The system RNG failing is not recoverable (nothing could be sealed safely).
        aws_lc_rs::rand::fill(&mut raw).expect("system random number generator");
        URL_SAFE.encode(raw)
    }

    /// Seals `plain` into a binary token with a fresh random IV and the current time.
    pub fn seal(&self, plain: &[u8]) -> Bytes {
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut iv).expect("system random number generator");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.seal_with(plain, now, iv)
    }

    /// [`FrameKey::seal`] with a given timestamp and IV (tests compare with the `fernet` crate).
    pub fn seal_with(&self, plain: &[u8], timestamp: u64, iv: [u8; 16]) -> Bytes {
        let mut token = Vec::with_capacity(token_len(plain.len()));
        token.push(FERNET_VERSION);
        token.extend_from_slice(&timestamp.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(plain);
        let mut body = Tail {
            buf: &mut token,
            from: TOKEN_PREFIX,
        };
        // CBC with a 16-byte IV context and PKCS7 padding cannot fail for any input length.
        self.0
            .encrypting
            .less_safe_encrypt(&mut body, EncryptionContext::Iv128(iv.into()))
            .expect("AES-128-CBC encryption");
        let tag = hmac::sign(&self.0.signing, &token);
        token.extend_from_slice(tag.as_ref());
        debug_assert_eq!(token.len(), token_len(plain.len()));
        Bytes::from(token)
    }

    /// Verifies a binary token's tag and decrypts it: the plaintext, or `None` for anything that is not a token
    /// sealed with this key (wrong length, wrong version, failed authentication, bad padding).
    pub fn open(&self, token: &[u8]) -> Option<Vec<u8>> {
        if !well_formed(token) {
            return None;
        }
        let (signed, tag) = token.split_at(token.len() - TAG_LEN);
        hmac::verify(&self.0.signing, signed, tag).ok()?;
        let iv: [u8; 16] = signed[9..TOKEN_PREFIX].try_into().ok()?;
        let mut plain = signed[TOKEN_PREFIX..].to_vec();
        let n = self
            .0
            .decrypting
            .decrypt(&mut plain, DecryptionContext::Iv128(iv.into()))
            .ok()?
            .len();
        plain.truncate(n);
        Some(plain)
    }
}

impl FrameKey {
    /// [`FrameKey::open`] of a token the caller gives away: decrypted in place, without a copy, when nothing else
    /// holds its buffer; the plaintext is then a slice of it.
    pub fn open_owned(&self, token: Bytes) -> Option<Bytes> {
        let mut buf = match token.try_into_mut() {
            Ok(buf) => buf,
            Err(shared) => return self.open(&shared).map(Bytes::from),
        };
        if !well_formed(&buf) {
            return None;
        }
        let end = buf.len() - TAG_LEN;
        hmac::verify(&self.0.signing, &buf[..end], &buf[end..]).ok()?;
        let iv: [u8; 16] = buf[9..TOKEN_PREFIX].try_into().ok()?;
        let n = self
            .0
            .decrypting
            .decrypt(
                &mut buf[TOKEN_PREFIX..end],
                DecryptionContext::Iv128(iv.into()),
            )
            .ok()?
            .len();
        Some(buf.freeze().slice(TOKEN_PREFIX..TOKEN_PREFIX + n))
    }
}

/// Whether `token` has the shape of a Fernet token: version byte, prefix, whole cipher blocks, tag.
fn well_formed(token: &[u8]) -> bool {
    let len = token.len();
    len >= TOKEN_PREFIX + 16 + TAG_LEN
        && (len - TOKEN_PREFIX - TAG_LEN).is_multiple_of(16)
        && token[0] == FERNET_VERSION
}

/// A vector seen from `from` on: encrypted in place, padding appended.
struct Tail<'a> {
    buf: &'a mut Vec<u8>,
    from: usize,
}

impl AsMut<[u8]> for Tail<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.from..]
    }
}

impl<'b> Extend<&'b u8> for Tail<'_> {
    fn extend<I: IntoIterator<Item = &'b u8>>(&mut self, iter: I) {
        self.buf.extend(iter);
    }
}

/// Opens the binary token of frame `index`: verifies its HMAC and decrypts
/// it with `key` (no TTL), checks the embedded index equals `index`, and
/// returns the frame's data. Does not check the data length; callers that
/// know the expected length must compare it.
pub fn open_frame(key: &FrameKey, index: u64, token: &[u8]) -> Result<Bytes, SealError> {
    let plain = key.open(token).ok_or(SealError::Decrypt { index })?;
    frame_data(index, Bytes::from(plain))
}

/// [`open_frame`] of a token the caller gives away (decrypted in place when its buffer is not shared).
pub fn open_frame_owned(key: &FrameKey, index: u64, token: Bytes) -> Result<Bytes, SealError> {
    let plain = key.open_owned(token).ok_or(SealError::Decrypt { index })?;
    frame_data(index, plain)
}

/// The data of an opened frame, after checking its embedded index.
fn frame_data(index: u64, plain: Bytes) -> Result<Bytes, SealError> {
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
    Ok(plain.slice(INDEX_LEN..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FrameKey {
        FrameKey::from_fernet_key(&FrameKey::generate()).expect("key")
    }

    /// Seals `data` pushing it in `step`-byte pieces; returns header ‖ frames
    /// and the individual frames.
    fn seal(key: &FrameKey, data: &[u8], frame: u32, step: usize) -> (Vec<u8>, Vec<Bytes>) {
        let mut s = Sealer::new(key.clone(), 7, frame);
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
        let encoded = fernet::Fernet::generate_key();
        let f = fernet::Fernet::new(&encoded).expect("key");
        for n in [0usize, 1, 8, 15, 16, 17, 31, 32, 100, 1000] {
            let t = URL_SAFE.decode(f.encrypt(&vec![0u8; n])).expect("b64");
            assert_eq!(t.len(), token_len(n), "plain len {n}");
        }
    }

    /// Our tokens are Fernet tokens: the `fernet` crate opens ours, we open its, and with the same timestamp and
    /// IV both produce the same bytes.
    #[test]
    fn tokens_are_bit_compatible_with_the_fernet_crate() {
        let encoded = fernet::Fernet::generate_key();
        let theirs = fernet::Fernet::new(&encoded).expect("fernet key");
        let ours = FrameKey::from_fernet_key(&encoded).expect("our key");
        for n in [0usize, 1, 15, 16, 17, 1000, 65_536 + 3] {
            let plain: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = ours.seal(&plain);
            assert_eq!(sealed.len(), token_len(n));
            assert_eq!(
                theirs
                    .decrypt(&URL_SAFE.encode(&sealed))
                    .expect("fernet opens ours"),
                plain
            );
            let token = URL_SAFE.decode(theirs.encrypt(&plain)).expect("b64");
            assert_eq!(ours.open(&token).expect("we open fernet's"), plain);
            // Same inputs, same token: the timestamp and IV are the first 25 bytes.
            let ts = u64::from_be_bytes(token[1..9].try_into().expect("8"));
            let iv: [u8; 16] = token[9..25].try_into().expect("16");
            assert_eq!(&ours.seal_with(&plain, ts, iv)[..], &token[..]);
        }
        // Unpadded key strings are accepted too; anything else is refused.
        assert!(FrameKey::from_fernet_key(encoded.trim_end_matches('=')).is_some());
        assert!(FrameKey::from_fernet_key("short").is_none());
        assert!(FrameKey::from_fernet_key(&URL_SAFE.encode([0u8; 31])).is_none());
    }

    #[test]
    fn open_refuses_what_is_not_a_token_of_its_key() {
        let k = key();
        let t = k.seal(b"hello frames").to_vec();
        assert_eq!(k.open(&t).as_deref(), Some(&b"hello frames"[..]));
        for cut in [0, 1, 24, 25, 57, t.len() - 1] {
            assert!(k.open(&t[..cut]).is_none(), "cut at {cut}");
        }
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 0x01;
            assert!(k.open(&bad).is_none(), "flip at {i}");
        }
        assert!(key().open(&t).is_none());
        // Given away: opened in place when unique, copied when shared; the same answers either way.
        let unique = Bytes::from(t.clone());
        assert_eq!(k.open_owned(unique).as_deref(), Some(&b"hello frames"[..]));
        let shared = Bytes::from(t.clone());
        let _other = shared.clone();
        assert_eq!(k.open_owned(shared).as_deref(), Some(&b"hello frames"[..]));
        let mut bad = t.clone();
        bad[30] ^= 1;
        assert!(k.open_owned(Bytes::from(bad)).is_none());
        assert!(k.open_owned(Bytes::from(t[..40].to_vec())).is_none());
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
