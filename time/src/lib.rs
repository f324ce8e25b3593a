//! Time as Clout reads it, shared by `clout` (the `--at` phrases) and `cloutd` (the
//! `--every` schedules), so both sides accept the same words:
//!
//! * [`clock`]: the time of day, `9am`, `9 a.m.`, `9:30pm`, `21:05`, `21:05:30`, `noon`,
//!   `midnight`;
//! * [`days`]: weekday names (`mon`, `monday`, `tues`, `fridays`) and day sets (`mon-fri`,
//!   `mon,wed`, `weekdays`, `weekends`, `daily`);
//! * [`zone`]: IANA zone names with suggestions ([`parse_tz`], [`TzError`]) and the local zone;
//! * [`dst`]: how a wall-clock time is turned into an instant when the clocks change;
//! * [`show`]: the one format of an instant on screens and in error messages.

pub mod clock;
pub mod days;
pub mod dst;
pub mod show;
pub mod zone;

pub use clock::{TimeOfDayError, has_meridiem, is_meridiem, parse_time_of_day};
pub use days::{DaySet, DaysError, parse_days, parse_weekday};
pub use dst::{
    WallTime, locate, resolve_fixed, resolve_interval, resolve_once, utc_offset_seconds, wall_time,
};
pub use show::show_time;
pub use zone::{TzError, did_you_mean, find_tz, local_tz, parse_tz, printable, tz_from_env_value};
