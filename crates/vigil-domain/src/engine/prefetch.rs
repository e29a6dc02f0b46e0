//! Asking the CPU to start loading memory the engine will read soon.
//!
//! At 100k players the records (about 42 MB) no longer fit in cache, and
//! every event and every timer needs its player's record: an ordinary read
//! ahead of time still stalls the core once the miss reaches the head of
//! its reorder window, where a prefetch instruction retires at once and
//! lets the core go on with the current event while the line comes in.
//! Safe Rust has no prefetch, hence the one `unsafe` block of the domain
//! crate, below.

/// Bytes in a cache line on the targets we build for.
const LINE: usize = 64;

/// Starts loading every cache line of `value` into the cache. Never
/// faults and changes nothing the program can observe: only speed.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    let start = value as *const T as usize;
    let end = start + std::mem::size_of::<T>().max(1);
    let mut line = start & !(LINE - 1);
    while line < end {
        prefetch_line(line);
        line += LINE;
    }
}

/// Starts loading every cache line of `bytes`: for callers outside the
/// engine that know what they will read next, such as the pipeline's
/// decoder with the next message's payload, which librdkafka's thread
/// wrote on another core.
#[inline(always)]
pub fn prefetch_bytes(bytes: &[u8]) {
    let start = bytes.as_ptr() as usize;
    let end = start + bytes.len();
    let mut line = start & !(LINE - 1);
    while line < end {
        prefetch_line(line);
        line += LINE;
    }
}

/// A prefetch hint for the line holding `addr`.
///
/// SAFETY (of the `unsafe` blocks): a prefetch is a hint, not an access.
/// It never dereferences in the language's sense, cannot fault (an invalid
/// or unmapped address is ignored by the CPU) and writes nothing, so it is
/// sound for any address; the addresses passed here are inside live
/// references anyway. The pointer is made only to name the address.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
fn prefetch_line(addr: usize) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: see above; SSE, which has `prefetcht0`, is part of x86_64.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(addr as *const i8) }
}

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
#[inline(always)]
fn prefetch_line(addr: usize) {
    // SAFETY: see above; `prfm` is a hint in the base instruction set,
    // touches no register but its address operand and no flags.
    unsafe {
        std::arch::asm!(
            "prfm pldl1keep, [{0}]",
            in(reg) addr,
            options(nostack, preserves_flags, readonly)
        )
    }
}

/// Elsewhere, nothing: the engine is as fast as it was without it.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
fn prefetch_line(_addr: usize) {}
