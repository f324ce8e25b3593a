//! End to end: `--at` phrases (read by clout) and `--every` schedules (read by cloutd) share
//! one grammar for the time of day and weekdays (the `clout-time` crate), so the same words
//! name the same instant on both sides.

use clout_e2e::Home;

/// The first occurrence of `schedule` in UTC, as cloutd previews it.
fn first_occurrence(home: &Home, schedule: &str) -> String {
    let p = home.json(&["task", "preview", schedule, "--tz", "UTC", "-n", "1"]);
    p["next"][0].as_str().unwrap_or_else(|| panic!("`{schedule}`: {p}")).to_string()
}

/// When clout schedules a draft `--at` this phrase (clout runs with TZ=UTC).
fn scheduled_at(home: &Home, phrase: &str) -> String {
    let d = home.json(&["draft", "add", "a post", "--at", phrase]);
    d["scheduled_at"].as_str().unwrap_or_else(|| panic!("`{phrase}`: {d}")).to_string()
}

#[test]
fn at_and_every_read_times_of_day_alike() {
    let home = Home::new();
    let _d = home.start();
    for time in ["9 a.m.", "9:30 p.m.", "9:30:15", "9:30:15 a.m.", "21:05:30", "9am", "noon", "12am"] {
        // A weekday then a time: "the first such day and time still ahead" on both sides.
        for day in ["fri", "monday", "fridays"] {
            let at = scheduled_at(&home, &format!("{day} {time}"));
            let every = first_occurrence(&home, &format!("{day} {time}"));
            assert_eq!(at, every, "`--at \"{day} {time}\"` and `--every \"{day} {time}\"`");
        }
        // A fixed date: the same time of day as `daily`.
        let at = scheduled_at(&home, &format!("2030-06-01 {time}"));
        let every = first_occurrence(&home, &format!("daily {time}"));
        assert_eq!(at.get(10..), every.get(10..), "`2030-06-01 {time}` and `daily {time}`");
    }
    // A task takes them too, and several at once.
    let t =
        home.json(&["task", "add", "Morning reading", "--every", "daily 9 a.m.,5:30 p.m.", "--tz", "UTC"]);
    assert_eq!(t["every"], "daily 9 a.m.,5:30 p.m.");
    let next = t["next_due_at"].as_str().unwrap_or_default();
    assert!(next.ends_with("T09:00:00.000Z") || next.ends_with("T17:30:00.000Z"), "{t}");
}

#[test]
fn both_sides_refuse_a_bare_hour() {
    let home = Home::new();
    let _d = home.start();
    home.fails_with(&["draft", "add", "a post", "--at", "9"], "cannot read the time");
    home.fails_with(&["task", "add", "x", "--every", "fri 9"], "needs minutes or am/pm");
    // After a day named in `--at`, a bare hour is one: `tomorrow 9`, `fri 9`.
    assert!(scheduled_at(&home, "2030-06-01").starts_with("2030-06-01T09:00:00"));
    home.json(&["draft", "add", "a post", "--at", "fri 9"]);
    // A schedule fires on whole seconds; `--at` keeps the fraction.
    home.fails_with(&["task", "add", "x", "--every", "daily 9:30:15.5"], "whole seconds");
    assert!(scheduled_at(&home, "2030-06-01 9:30:15.5").starts_with("2030-06-01T09:30:15.5"));
}
