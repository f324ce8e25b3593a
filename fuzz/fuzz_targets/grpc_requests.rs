//! Every clout.v1 request message, decoded from arbitrary bytes and run
//! through the real service handlers of an in-memory daemon.
//!
//! Byte 0 picks the RPC, the rest is its protobuf encoding. A request that
//! decodes goes to the handler (`DraftService::add_draft(&api, …)` and so on),
//! exactly as tonic would call it, against a `Core` over
//! `Store::open("sqlite::memory:")` made once per process and seeded with a
//! draft, a task, a setback with a lesson, a follow, a slot, a sink and a few
//! nudges, so that small ids name real records. The scheduler and the sink
//! delivery task do not run, and `SinkService.TestSink` is only decoded, never
//! called: the fuzzer must not run programs or send requests over the network.
//!
//! What must hold:
//! - no handler panics;
//! - no handler answers INTERNAL or UNKNOWN (those mean a bug, e.g. a database
//!   error let through), and every error has a message;
//! - a request that fails changes nothing: the export, the nudge log (with its
//!   acknowledgements) and the sinks are the same before and after it.
//!
//! The daemon is made anew every few thousand requests, so the database stays
//! small and the seeded ids stay likely.

#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use clout_daemon::service::Api;
use clout_daemon::store::Store;
use clout_daemon::{Core, rules, sinks};
use clout_proto::v1;
use clout_proto::v1::backup_service_server::BackupService;
use clout_proto::v1::daemon_service_server::DaemonService;
use clout_proto::v1::account_service_server::AccountService;
use clout_proto::v1::draft_service_server::DraftService;
use clout_proto::v1::nudge_service_server::NudgeService;
use clout_proto::v1::program_service_server::ProgramService;
use clout_proto::v1::queue_service_server::QueueService;
use clout_proto::v1::review_service_server::ReviewService;
use clout_proto::v1::sink_service_server::SinkService;
use clout_proto::v1::task_service_server::TaskService;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, watch};
use tonic::{Code, Request, Status};

/// The daemon's decoding limit for every service but BackupService.
const MAX_REQUEST_BYTES: usize = clout_daemon::service::MAX_REQUEST_BYTES;
/// Requests served by one daemon before a fresh one is made.
const REQUESTS_PER_DAEMON: u32 = 3000;

struct Daemon {
    api: Api,
    core: Arc<Core>,
    /// Kept so the watchers' shutdown flag stays open.
    _stop: watch::Sender<bool>,
    served: u32,
}

struct Fuzz {
    rt: Runtime,
    daemon: Mutex<Option<Daemon>>,
}

fn fuzz() -> &'static Fuzz {
    static FUZZ: OnceLock<Fuzz> = OnceLock::new();
    FUZZ.get_or_init(|| {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => panic!("cannot build a tokio runtime: {e}"),
        };
        Fuzz { rt, daemon: Mutex::new(None) }
    })
}

fn ok<T>(what: &str, r: Result<T, impl std::fmt::Display>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("seeding the fuzz daemon: {what}: {e}"),
    }
}

async fn new_daemon() -> Daemon {
    let store = ok("open", Store::open("sqlite::memory:", None).await);
    let last = ok("last nudge", store.last_nudge_id().await);
    let (stop, stop_rx) = watch::channel(false);
    let core = Arc::new(Core {
        store,
        wake: Notify::new(),
        nudges: watch::Sender::new(last),
        shutdown: stop_rx,
        sinks: sinks::Hub::new(),
        started_at: Utc::now(),
        socket: "/nonexistent/cloutd.sock".into(),
        policy: std::sync::RwLock::new(rules::Policy::default()),
        fleet_out: Notify::new(),
        publish: clout_daemon::publish::Hub::new(),
        health: clout_daemon::health::Health::default(),
    });
    let api = Api::new(core.clone());
    seed(&api, &core).await;
    Daemon { api, core, _stop: stop, served: 0 }
}

/// A few records of every kind, and nudges for some of them.
async fn seed(api: &Api, core: &Core) {
    let now = Utc::now();
    let soon = clout_proto::ts(now + chrono::Duration::minutes(1));
    ok(
        "draft",
        api.add_draft(Request::new(v1::AddDraftRequest {
            text: "seed draft".into(),
            tags: vec!["seed".into()],
            at: Some(soon),
            ..Default::default()
        }))
        .await,
    );
    ok(
        "draft",
        api.add_draft(Request::new(v1::AddDraftRequest { text: "plain draft".into(), ..Default::default() }))
            .await,
    );
    ok(
        "task",
        api.add_task(Request::new(v1::AddTaskRequest {
            text: "reply to three posts".into(),
            every: "daily 10:00".into(),
            ..Default::default()
        }))
        .await,
    );
    ok(
        "setback",
        api.add_setback(Request::new(v1::AddSetbackRequest {
            text: "no replies".into(),
            lesson: "post in the morning".into(),
            tags: vec!["seed".into()],
            ..Default::default()
        }))
        .await,
    );
    ok(
        "follow",
        api.add_follow(Request::new(v1::AddFollowRequest {
            handle: "@alice@example.social".into(),
            platform: "mastodon".into(),
            ..Default::default()
        }))
        .await,
    );
    ok("slot", api.add_slot(Request::new(v1::AddSlotRequest { spec: "mon,wed,fri 09:00".into() })).await);
    ok(
        "sink",
        api.add_sink(Request::new(v1::AddSinkRequest { kind: "desktop".into(), ..Default::default() })).await,
    );
    // The draft, the task's first occurrence and the lesson come due.
    ok("fire", clout_daemon::fire::fire_due_default(&core.store, now + chrono::Duration::days(2), 100).await);
    ok(
        "draft",
        api.add_draft(Request::new(v1::AddDraftRequest {
            text: "scheduled draft".into(),
            at: Some(clout_proto::ts(now + chrono::Duration::days(3))),
            ..Default::default()
        }))
        .await,
    );
}

/// The state a failed request must leave as it was.
async fn snapshot(api: &Api) -> String {
    let export = ok("export", api.export(Request::new(v1::ExportRequest {})).await).into_inner().json;
    let nudges = ok(
        "list nudges",
        api.list_nudges(Request::new(v1::ListNudgesRequest { all: true, ..Default::default() })).await,
    )
    .into_inner();
    let sinks = ok("list sinks", api.list_sinks(Request::new(v1::ListSinksRequest {})).await).into_inner();
    format!("{export}\n{nudges:?}\n{sinks:?}")
}

/// Decodes the bytes as `$ty`; returns from the fuzz target when they are not one.
macro_rules! decode {
    ($ty:ty, $bytes:expr) => {
        match <$ty as Message>::decode($bytes) {
            Ok(m) => m,
            Err(_) => return None,
        }
    };
}

/// Calls the handler and keeps only the status of a failure.
macro_rules! call {
    ($api:expr, $method:ident, $ty:ty, $bytes:expr) => {{
        let req = decode!($ty, $bytes);
        Some($api.$method(Request::new(req)).await.map(|_| ()))
    }};
}

/// The RPCs, by selector. `true`: it may write, so a failure is checked to change nothing.
const RPCS: &[(&str, bool)] = &[
    ("DraftService.AddDraft", true),
    ("DraftService.GetDraft", false),
    ("DraftService.ListDrafts", false),
    ("DraftService.UpdateDraft", true),
    ("DraftService.DeleteDraft", true),
    ("DraftService.ScheduleDraft", true),
    ("DraftService.UnscheduleDraft", true),
    ("DraftService.MarkPublished", true),
    ("DraftService.SkipDraft", true),
    ("QueueService.Upcoming", false),
    ("QueueService.Shuffle", true),
    ("QueueService.Pause", true),
    ("QueueService.Resume", true),
    ("NudgeService.Watch", false),
    ("NudgeService.ListNudges", false),
    ("NudgeService.Ack", true),
    ("NudgeService.Snooze", true),
    ("ProgramService.GetProgram", false),
    ("ProgramService.SetProgram", true),
    ("ProgramService.AddSlot", true),
    ("ProgramService.ListSlots", false),
    ("ProgramService.RemoveSlot", true),
    ("ProgramService.AddFollow", true),
    ("ProgramService.ListFollows", false),
    ("ProgramService.RemoveFollow", true),
    ("TaskService.AddTask", true),
    ("TaskService.ListTasks", false),
    ("TaskService.RemoveTask", true),
    ("TaskService.DoneTask", true),
    ("TaskService.SkipTask", true),
    ("TaskService.PreviewSchedule", false),
    ("ReviewService.AddSetback", true),
    ("ReviewService.AddLesson", true),
    ("ReviewService.ListLessons", false),
    ("ReviewService.ListSetbacks", false),
    ("ReviewService.Review", false),
    ("BackupService.Export", false),
    ("BackupService.Import", true),
    ("SinkService.AddSink", true),
    ("SinkService.ListSinks", false),
    ("SinkService.RemoveSink", true),
    ("SinkService.TestSink", false),
    ("DaemonService.Status", false),
    ("DraftService.RetryDraft", true),
    ("AccountService.ListAccounts", false),
    ("AccountService.RemoveAccount", true),
    ("AccountService.AddAccount", true),
    ("AccountService.CheckAccount", false),
];

/// Runs RPC number `which` with `b` as its request; `None` when `b` does not decode.
async fn run(api: &Api, which: usize, b: &[u8]) -> Option<Result<(), Status>> {
    match which {
        0 => call!(api, add_draft, v1::AddDraftRequest, b),
        1 => call!(api, get_draft, v1::GetDraftRequest, b),
        2 => call!(api, list_drafts, v1::ListDraftsRequest, b),
        3 => call!(api, update_draft, v1::UpdateDraftRequest, b),
        4 => call!(api, delete_draft, v1::DeleteDraftRequest, b),
        5 => call!(api, schedule_draft, v1::ScheduleDraftRequest, b),
        6 => call!(api, unschedule_draft, v1::UnscheduleDraftRequest, b),
        7 => call!(api, mark_published, v1::MarkPublishedRequest, b),
        8 => call!(api, skip_draft, v1::SkipDraftRequest, b),
        9 => call!(api, upcoming, v1::UpcomingRequest, b),
        10 => call!(api, shuffle, v1::ShuffleRequest, b),
        11 => call!(api, pause, v1::PauseRequest, b),
        12 => call!(api, resume, v1::ResumeRequest, b),
        13 => {
            // The stream is dropped at once; its task ends when it sees that.
            let req = decode!(v1::WatchRequest, b);
            Some(api.watch(Request::new(req)).await.map(drop))
        }
        14 => call!(api, list_nudges, v1::ListNudgesRequest, b),
        15 => call!(api, ack, v1::AckRequest, b),
        16 => call!(api, snooze, v1::SnoozeRequest, b),
        17 => call!(api, get_program, v1::GetProgramRequest, b),
        18 => call!(api, set_program, v1::SetProgramRequest, b),
        19 => call!(api, add_slot, v1::AddSlotRequest, b),
        20 => call!(api, list_slots, v1::ListSlotsRequest, b),
        21 => call!(api, remove_slot, v1::RemoveSlotRequest, b),
        22 => call!(api, add_follow, v1::AddFollowRequest, b),
        23 => call!(api, list_follows, v1::ListFollowsRequest, b),
        24 => call!(api, remove_follow, v1::RemoveFollowRequest, b),
        25 => call!(api, add_task, v1::AddTaskRequest, b),
        26 => call!(api, list_tasks, v1::ListTasksRequest, b),
        27 => call!(api, remove_task, v1::RemoveTaskRequest, b),
        28 => call!(api, done_task, v1::ResolveTaskRequest, b),
        29 => call!(api, skip_task, v1::ResolveTaskRequest, b),
        30 => call!(api, preview_schedule, v1::PreviewScheduleRequest, b),
        31 => call!(api, add_setback, v1::AddSetbackRequest, b),
        32 => call!(api, add_lesson, v1::AddLessonRequest, b),
        33 => call!(api, list_lessons, v1::ListLessonsRequest, b),
        34 => call!(api, list_setbacks, v1::ListSetbacksRequest, b),
        35 => call!(api, review, v1::ReviewRequest, b),
        36 => call!(api, export, v1::ExportRequest, b),
        37 => call!(api, import, v1::ImportRequest, b),
        38 => call!(api, add_sink, v1::AddSinkRequest, b),
        39 => call!(api, list_sinks, v1::ListSinksRequest, b),
        40 => call!(api, remove_sink, v1::RemoveSinkRequest, b),
        41 => {
            // Decoded only: a test delivery would run a program or post to a URL.
            let _ = decode!(v1::TestSinkRequest, b);
            None
        }
        42 => call!(api, status, v1::StatusRequest, b),
        43 => call!(api, retry_draft, v1::RetryDraftRequest, b),
        44 => call!(api, list_accounts, v1::ListAccountsRequest, b),
        45 => call!(api, remove_account, v1::RemoveAccountRequest, b),
        46 => {
            // Never signing in: that would reach out to whatever server the input names.
            let req = decode!(v1::AddAccountRequest, b);
            let req = v1::AddAccountRequest { skip_check: true, ..req };
            Some(api.add_account(Request::new(req)).await.map(drop))
        }
        47 => {
            // Decoded only: a check signs in to the account's server.
            let _ = decode!(v1::CheckAccountRequest, b);
            None
        }
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let which = usize::from(selector) % RPCS.len();
    let (name, writes) = RPCS[which];
    // tonic refuses bigger requests before decoding them (BackupService allows 64 MiB).
    if body.len() > MAX_REQUEST_BYTES && name != "BackupService.Import" {
        return;
    }
    let f = fuzz();
    let mut slot = f.daemon.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f.rt.block_on(async {
        if slot.as_ref().is_none_or(|d| d.served >= REQUESTS_PER_DAEMON) {
            if let Some(old) = slot.take() {
                old.core.store.close().await;
            }
            *slot = Some(new_daemon().await);
        }
        let Some(d) = slot.as_mut() else {
            return;
        };
        d.served += 1;
        let before = if writes { Some(snapshot(&d.api).await) } else { None };
        let Some(result) = run(&d.api, which, body).await else {
            return;
        };
        let Err(status) = result else {
            return;
        };
        assert!(
            !matches!(status.code(), Code::Internal | Code::Unknown),
            "{name} answered {:?}: {}",
            status.code(),
            status.message()
        );
        assert!(!status.message().trim().is_empty(), "{name} answered {:?} without a message", status.code());
        if let Some(before) = before {
            let after = snapshot(&d.api).await;
            assert!(
                before == after,
                "{name} failed ({:?}: {}) but changed the state:\n--- before\n{before}\n--- after\n{after}",
                status.code(),
                status.message()
            );
        }
    });
});
