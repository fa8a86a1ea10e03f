//! The simulated clock's units. Times are milliseconds since the first
//! record of the trace.

/// One hour in milliseconds (the chart's resolution).
pub const HOUR_MS: u64 = 3_600_000;
/// One day in milliseconds (the policies' tick).
pub const DAY_MS: u64 = 24 * HOUR_MS;
/// The billing month: 30 days.
pub const MONTH_MS: u64 = 30 * DAY_MS;
/// Records more than this far after the first one are rejected, which
/// bounds the number of daily ticks whatever the input (10 years).
pub const MAX_SPAN_MS: u64 = 3650 * DAY_MS;
