//! The process's heap settings for the data path.
//!
//! Every GET and PUT moves its body in sealed frames of about 1 MiB (`backends::DEFAULT_FRAME_SIZE`), a few
//! in flight per stream. glibc's malloc serves a request that large with its own `mmap` until a freed one
//! raises its dynamic threshold, and gives the top of its heap back to the kernel whenever more than its trim
//! threshold (128 KiB at first) is free; so a fresh gateway maps, faults in and unmaps each frame's buffer.
//! Measured on a release build (8 objects of 64 MiB read by rclone with 4 transfers, the gateway alone on the
//! machine's 2 cores, two builds alternated twice, three passes each): the server spent 0.62–0.68 CPU-seconds
//! per 512 MiB at 502–538 MiB/s with glibc's defaults, and 0.54–0.57 CPU-seconds at 539–579 MiB/s with the
//! thresholds below. Setting only one of them (through `GLIBC_TUNABLES`) did not help. 4 KiB PUTs
//! were unchanged within their noise (853 against 873 files/s over three alternated runs).
//!
//! The cost is memory the heap keeps after a burst instead of returning it at once: at most
//! [`TRIM_THRESHOLD`] free at the top of each arena. `scripts/bench.sh`'s peak RSS through a 2 GiB PUT and
//! GET read 144–159 MiB in two runs against 123 MiB without it (the bound is 200 MiB). mimalloc as the
//! global allocator was tried instead and dropped: 1.2 GiB peak RSS on the same row.

/// Allocations from this size up get their own `mmap`: above the default frame with room for the largest
/// frames most configurations use (glibc caps the value at 32 MiB on 64-bit targets).
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory at the top of a heap beyond this goes back to the kernel.
pub const TRIM_THRESHOLD: usize = 32 << 20;

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
