//! The process's heap settings for the data path.
//!
//! Every GET and PUT moves its body in sealed frames of about 1 MiB (`backends::DEFAULT_FRAME_SIZE`), a few
//! in flight per stream. glibc's malloc serves a request that large with its own `mmap` until a freed one
//! raises its dynamic threshold, and gives the top of its heap back to the kernel whenever more than its trim
//! threshold (128 KiB at first) is free; so a fresh gateway maps, faults in and unmaps each frame's buffer.
//! Measured on a release build, the 64 MiB GET row alone (8 objects read by rclone with 4 transfers, the
//! gateway alone on the machine's 2 cores, builds alternated, three passes each): the server spent 0.59–0.68
//! CPU-seconds per 512 MiB with glibc's defaults, 0.55–0.60 with 2 MiB and 16 MiB thresholds and 0.54–0.57 with
//! both at 32 MiB. In `scripts/bench.sh --rounds 3` (the row's median CPU; peak RSS through a 2 GiB PUT and GET,
//! read after all the other rows): defaults 0.76 s and 151 MiB; 2 MiB and 16 MiB 0.58–0.60 s and 184–205 MiB,
//! over the 200; 2 MiB and 4 MiB (these) 0.67 s and 109 MiB. The row alone again with these, alternated
//! with the defaults twice (a slower hour on the machine): 0.62–0.71 against 0.66–0.74 CPU-seconds; peak RSS
//! through one 2 GiB PUT and GET on a fresh gateway 64 MiB against 55. 4 KiB PUTs were unchanged within their
//! noise.
//! mimalloc as the global allocator was tried instead and dropped: 1.2 GiB peak RSS on the bench's row, and its
//! web workload at a third of the rate.

/// Allocations from this size up get their own `mmap` (and go back to the kernel when freed): above a default
/// frame's buffers (1 MiB and a token's few bytes), below the multipart parts and large frames, which stay rare.
pub const MMAP_THRESHOLD: usize = 2 << 20;
/// Free memory at the top of a heap beyond this goes back to the kernel: a few frames. glibc keeps up to one
/// arena per thread (8 per core at most), each holding up to this much, so it bounds what the heap keeps.
pub const TRIM_THRESHOLD: usize = 4 << 20;

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
