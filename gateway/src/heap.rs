//! The process's heap settings for the data path.
//!
//! Every GET and PUT moves its body in sealed frames of about 1 MiB (`backends::DEFAULT_FRAME_SIZE`), a few
//! in flight per stream. glibc's malloc serves a request that large with its own `mmap` until a freed one
//! raises its dynamic threshold, and gives the top of its heap back to the kernel whenever more than its trim
//! threshold (128 KiB at first) is free; so a fresh gateway maps, faults in and unmaps each frame's buffer.
//! Measured on a release build (8 objects of 64 MiB read by rclone with 4 transfers, the gateway alone on the
//! machine's 2 cores, builds alternated twice, three passes each): the server spent 0.59–0.63 CPU-seconds per
//! 512 MiB with glibc's defaults and 0.55–0.60 with the thresholds below (an earlier pair of runs: 0.62–0.68
//! against 0.54–0.57 with both thresholds at 32 MiB, which also took a 512 MiB streaming PUT from 2.27–2.41 to
//! 2.07–2.18 CPU-seconds). 4 KiB PUTs were unchanged within their noise.
//!
//! The cost is memory the heap keeps instead of returning it at once: at most [`TRIM_THRESHOLD`] free at the
//! top of each arena. Peak RSS through one 2 GiB PUT and GET by rclone: 55 MiB with the defaults, 69 MiB with
//! these (with both at 32 MiB, 78 MiB; and `scripts/bench.sh`'s row, measured after its other rows, read up to
//! 202 MiB, over the 200). mimalloc as the global allocator was tried instead and dropped: 1.2 GiB peak
//! RSS on the bench's row, and its web workload at a third of the rate.

/// Allocations from this size up get their own `mmap` (and go back to the kernel when freed): above a default
/// frame's buffers (1 MiB and a token's few bytes), below the multipart parts and large frames, which stay rare.
pub const MMAP_THRESHOLD: usize = 2 << 20;
/// Free memory at the top of a heap beyond this goes back to the kernel: room for a few streams' frames.
pub const TRIM_THRESHOLD: usize = 16 << 20;

/// Applies [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`]. Call first thing in `main`, before any other thread
/// exists. Where the C library is not glibc this does nothing.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes malloc's parameters and takes plain integers; it is called before any
    // other thread runs, and an out-of-range value is refused with a return of 0, not undefined behaviour.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}
