//! Bad input, end to end: every RPC of every clout.v1 service gets empty,
//! oversized, malformed and out-of-range requests from a table of cases. Each
//! case names the exact status code it must get and its message must be a plain
//! sentence; the state (the export, the nudge log, the sinks, …) must be the
//! same after each refused request as before it. The CLI gets non-UTF-8 and
//! oversized text for drafts, tasks and setbacks, and must refuse it the same way.

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use clout_e2e::{Home, QUIET_RULES, bin, stderr};
use clout_proto::v1;
use clout_proto::v1::account_service_client::AccountServiceClient;
use clout_proto::v1::backup_service_client::BackupServiceClient;
use clout_proto::v1::daemon_service_client::DaemonServiceClient;
use clout_proto::v1::draft_service_client::DraftServiceClient;
use clout_proto::v1::image_service_client::ImageServiceClient;
use clout_proto::v1::nudge_service_client::NudgeServiceClient;
use clout_proto::v1::program_service_client::ProgramServiceClient;
use clout_proto::v1::queue_service_client::QueueServiceClient;
use clout_proto::v1::review_service_client::ReviewServiceClient;
use clout_proto::v1::sink_service_client::SinkServiceClient;
use clout_proto::v1::task_service_client::TaskServiceClient;
use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// The daemon's request limit (all services but BackupService).
const MAX_REQUEST: usize = 256 * KIB;
/// BackupService's request limit (an import file).
const MAX_IMPORT: usize = 64 * MIB;
/// Far more than any limit below the request size: 1 MiB.
const HUGE: usize = MIB;

type Reply = Pin<Box<dyn Future<Output = Result<(), Status>>>>;

struct Case {
    name: String,
    want: Code,
    call: Option<Reply>,
    /// Words the message must contain.
    says: Vec<&'static str>,
    /// Words the message must not contain.
    not_says: Vec<&'static str>,
}

impl Case {
    fn says(&mut self, word: &'static str) -> &mut Case {
        self.says.push(word);
        self
    }

    fn not_says(&mut self, word: &'static str) -> &mut Case {
        self.not_says.push(word);
        self
    }
}

#[derive(Default)]
struct Table {
    cases: Vec<Case>,
}

impl Table {
    fn add(
        &mut self,
        name: impl Into<String>,
        want: Code,
        call: impl Future<Output = Result<(), Status>> + 'static,
    ) -> &mut Case {
        self.cases.push(Case {
            name: name.into(),
            want,
            call: Some(Box::pin(call)),
            says: Vec::new(),
            not_says: Vec::new(),
        });
        self.cases.last_mut().expect("just pushed")
    }
}

/// Adds a case: `$client.$method($req)`, sent when the case runs.
macro_rules! rpc {
    ($t:expr, $name:expr, $want:expr, $client:expr, $method:ident, $req:expr) => {{
        let req = $req;
        let mut client = $client.clone();
        $t.add($name, $want, async move { client.$method(Request::new(req)).await.map(drop) })
    }};
}

/// A message whose only field (15) no clout.v1 request has: the server skips it
/// when decoding, so it makes any request as big as wanted.
#[derive(Clone, PartialEq, prost::Message)]
struct Padding {
    #[prost(bytes = "vec", tag = "15")]
    pad: Vec<u8>,
}

/// Sends a request of about `bytes` bytes (all padding) to the RPC at `path`.
async fn padded(ch: Channel, path: &'static str, bytes: usize) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<Padding, Padding>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(Request::new(Padding { pad: vec![b'x'; bytes] }), path, codec).await.map(drop)
}

/// Every RPC of clout.v1, as its HTTP/2 path.
const ALL_RPCS: &[&str] = &[
    "/clout.v1.DraftService/AddDraft",
    "/clout.v1.DraftService/GetDraft",
    "/clout.v1.DraftService/ListDrafts",
    "/clout.v1.DraftService/UpdateDraft",
    "/clout.v1.DraftService/DeleteDraft",
    "/clout.v1.DraftService/ScheduleDraft",
    "/clout.v1.DraftService/UnscheduleDraft",
    "/clout.v1.DraftService/MarkPublished",
    "/clout.v1.DraftService/SkipDraft",
    "/clout.v1.QueueService/Upcoming",
    "/clout.v1.QueueService/Shuffle",
    "/clout.v1.QueueService/Pause",
    "/clout.v1.QueueService/Resume",
    "/clout.v1.NudgeService/Watch",
    "/clout.v1.NudgeService/ListNudges",
    "/clout.v1.NudgeService/Ack",
    "/clout.v1.NudgeService/Snooze",
    "/clout.v1.ProgramService/GetProgram",
    "/clout.v1.ProgramService/SetProgram",
    "/clout.v1.ProgramService/AddSlot",
    "/clout.v1.ProgramService/ListSlots",
    "/clout.v1.ProgramService/RemoveSlot",
    "/clout.v1.ProgramService/AddFollow",
    "/clout.v1.ProgramService/ListFollows",
    "/clout.v1.ProgramService/RemoveFollow",
    "/clout.v1.TaskService/AddTask",
    "/clout.v1.TaskService/ListTasks",
    "/clout.v1.TaskService/RemoveTask",
    "/clout.v1.TaskService/DoneTask",
    "/clout.v1.TaskService/SkipTask",
    "/clout.v1.TaskService/PreviewSchedule",
    "/clout.v1.ReviewService/AddSetback",
    "/clout.v1.ReviewService/AddLesson",
    "/clout.v1.ReviewService/ListLessons",
    "/clout.v1.ReviewService/ListSetbacks",
    "/clout.v1.ReviewService/Review",
    "/clout.v1.BackupService/Export",
    "/clout.v1.BackupService/Import",
    "/clout.v1.SinkService/AddSink",
    "/clout.v1.SinkService/ListSinks",
    "/clout.v1.SinkService/RemoveSink",
    "/clout.v1.SinkService/TestSink",
    "/clout.v1.DaemonService/Status",
    "/clout.v1.DraftService/RetryDraft",
    "/clout.v1.AccountService/AddAccount",
    "/clout.v1.AccountService/ListAccounts",
    "/clout.v1.AccountService/RemoveAccount",
    "/clout.v1.AccountService/CheckAccount",
];

/// Why `msg` is not a plain sentence for a person, if it is not.
fn unclear(msg: &str) -> Option<&'static str> {
    let m = msg.trim();
    if m.is_empty() {
        return Some("the message is empty");
    }
    if m.len() > 2048 {
        return Some("the message is longer than 2 KiB");
    }
    for (needle, why) in [
        ("Error(", "it holds Rust debug output (`Error(`)"),
        ("Status {", "it holds a debug dump of a Status"),
        ("{ ", "it holds a struct dump (`{ `)"),
        (" }", "it holds a struct dump (` }`)"),
        ("Some(", "it holds Rust debug output (`Some(`)"),
        ("panicked", "it reports a panic"),
        ("its log says why under that reference", "it is an internal error"),
        ("storage error", "it is a database error"),
    ] {
        if m.contains(needle) {
            return Some(why);
        }
    }
    None
}

fn ts(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

fn in_secs(secs: i64) -> Option<Timestamp> {
    Some(clout_proto::ts(Utc::now() + chrono::Duration::seconds(secs)))
}

/// The malformed or unacceptable instants every time field is tried with.
fn bad_times() -> Vec<(&'static str, Option<Timestamp>)> {
    let now = Utc::now().timestamp();
    vec![
        ("nanos -1", ts(now + 3600, -1)),
        ("nanos 1e9", ts(now + 3600, 1_000_000_000)),
        ("seconds i64::MAX", ts(i64::MAX, 0)),
        ("seconds i64::MIN", ts(i64::MIN, 0)),
        ("an hour ago", ts(now - 3600, 0)),
        ("the epoch", ts(0, 0)),
        ("the year 2300", ts(10_413_792_000, 0)),
    ]
}

fn text(n: usize) -> String {
    "a".repeat(n)
}

/// The state a refused request must leave alone.
async fn snapshot(ch: &Channel) -> String {
    let export = BackupServiceClient::new(ch.clone())
        .export(v1::ExportRequest {})
        .await
        .expect("export")
        .into_inner()
        .json;
    let nudges = NudgeServiceClient::new(ch.clone())
        .list_nudges(v1::ListNudgesRequest { all: true, ..Default::default() })
        .await
        .expect("list nudges")
        .into_inner();
    let unread = NudgeServiceClient::new(ch.clone())
        .list_nudges(v1::ListNudgesRequest { unread: true, all: true, ..Default::default() })
        .await
        .expect("list unread nudges")
        .into_inner();
    // What each sink is; not its delivery progress, which moves on by itself
    // when a nudge is written (by a case that wrongly succeeds, say).
    let sinks: Vec<_> = SinkServiceClient::new(ch.clone())
        .list_sinks(v1::ListSinksRequest {})
        .await
        .expect("sinks")
        .into_inner()
        .sinks
        .into_iter()
        .map(|s| (s.id, s.kind, s.target, s.args, s.format, s.kinds, s.created_at))
        .collect();
    let program =
        ProgramServiceClient::new(ch.clone()).get_program(v1::GetProgramRequest {}).await.expect("program");
    let accounts = AccountServiceClient::new(ch.clone())
        .list_accounts(v1::ListAccountsRequest {})
        .await
        .expect("accounts");
    let drafts = DraftServiceClient::new(ch.clone())
        .list_drafts(v1::ListDraftsRequest::default())
        .await
        .expect("drafts")
        .into_inner()
        .drafts
        .into_iter()
        .map(|d| (d.id, d.visibility, d.content_warning, d.language, d.publications))
        .collect::<Vec<_>>();
    format!(
        "{export}\nnudges: {nudges:?}\nunread: {unread:?}\nsinks: {sinks:?}\nprogram: {:?}\naccounts: {:?}\npublishing: {drafts:?}",
        program.get_ref(),
        accounts.get_ref()
    )
}

/// The first line where two snapshots differ, for the failure message.
fn first_difference(before: &str, after: &str) -> String {
    for (i, (a, b)) in before.lines().zip(after.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  before: {a}\n  after:  {b}", i + 1);
        }
    }
    format!("{} lines before, {} after", before.lines().count(), after.lines().count())
}

/// Records made before the table, so that cases can name real ids in every state.
struct Ids {
    draft: i64,
    scheduled: i64,
    published: i64,
    skipped: i64,
    task: i64,
    setback: i64,
    nudge: i64,
    /// Drafts for the cases that could change them by mistake, one each.
    spare: [i64; 2],
}

async fn seed(ch: &Channel) -> Ids {
    let mut drafts = DraftServiceClient::new(ch.clone());
    let add = |text: &str, at: Option<Timestamp>| {
        let req =
            v1::AddDraftRequest { text: text.into(), tags: vec!["keep".into()], at, ..Default::default() };
        let mut c = drafts.clone();
        async move { c.add_draft(req).await.expect("add draft").into_inner().id }
    };
    let draft = add("the one good draft", None).await;
    let scheduled = add("scheduled for later", in_secs(2 * 86_400)).await;
    let published = add("already out", None).await;
    let skipped = add("not this one", None).await;
    let spare = [add("spare one", None).await, add("spare two", None).await];
    drafts
        .mark_published(v1::MarkPublishedRequest {
            id: published,
            url: "https://example.social/@me/1".into(),
        })
        .await
        .expect("publish");
    drafts.skip_draft(v1::SkipDraftRequest { id: skipped }).await.expect("skip");

    let mut tasks = TaskServiceClient::new(ch.clone());
    // 29 February: it never comes due while the test runs.
    let task = tasks
        .add_task(v1::AddTaskRequest {
            text: "Reply to 3 posts".into(),
            every: "0 10 29 2 *".into(),
            tz: "Europe/Berlin".into(),
            ..Default::default()
        })
        .await
        .expect("add task")
        .into_inner()
        .id;
    tasks
        .add_task(v1::AddTaskRequest {
            text: "Thank everyone who replied".into(),
            once_at: in_secs(2 * 86_400),
            ..Default::default()
        })
        .await
        .expect("add one-off task");

    let setback = ReviewServiceClient::new(ch.clone())
        .add_setback(v1::AddSetbackRequest {
            text: "Launch thread got no replies".into(),
            lesson: "Post threads in the morning".into(),
            tags: vec!["threads".into()],
            ..Default::default()
        })
        .await
        .expect("add setback")
        .into_inner()
        .id;

    let mut program = ProgramServiceClient::new(ch.clone());
    program
        .add_follow(v1::AddFollowRequest {
            handle: "@alice@mastodon.social".into(),
            platform: "mastodon".into(),
            why: "clear threads".into(),
            topic: "rust".into(),
            // A closed local port: the study read stays on this machine.
            server: "http://127.0.0.1:9".into(),
        })
        .await
        .expect("add follow");
    program.add_slot(v1::AddSlotRequest { spec: "mon,wed,fri 09:00".into() }).await.expect("add slot");

    // Added last: it starts at the end of the log, so it has nothing to deliver.
    SinkServiceClient::new(ch.clone())
        .add_sink(v1::AddSinkRequest {
            kind: "command".into(),
            target: "/bin/true".into(),
            ..Default::default()
        })
        .await
        .expect("add sink");

    let nudges = NudgeServiceClient::new(ch.clone())
        .list_nudges(v1::ListNudgesRequest { all: true, ..Default::default() })
        .await
        .expect("list nudges")
        .into_inner()
        .nudges;
    let nudge = nudges.last().map(|n| n.id).expect("publishing wrote a nudge");
    Ids { draft, scheduled, published, skipped, task, setback, nudge, spare }
}

/// A valid export document with `edit` applied to it, as JSON text.
fn export_doc(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut doc = serde_json::json!({
        "format": "clout-export",
        "version": 1,
        "program": { "purpose": "learn", "posts_per_week": 3, "engagements_per_day": 2, "tz": "UTC", "paused": false },
        "drafts": [{
            "id": 900, "title": "", "text": "imported draft", "platforms": [], "tags": [], "state": "draft",
            "scheduled_at": null, "fired_at": null, "late": false, "published_at": null, "published_url": "",
            "slotted": false, "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"
        }],
    });
    edit(&mut doc);
    doc.to_string()
}

/// The table: every RPC, with every kind of bad input that applies to it.
fn table(ch: &Channel, ids: &Ids) -> Table {
    use Code::{FailedPrecondition as FAILED, InvalidArgument as INVALID, NotFound as NOT_FOUND, Ok as OK};
    let drafts = DraftServiceClient::new(ch.clone());
    let queue = QueueServiceClient::new(ch.clone());
    let nudges = NudgeServiceClient::new(ch.clone());
    let program = ProgramServiceClient::new(ch.clone());
    let tasks = TaskServiceClient::new(ch.clone());
    let review = ReviewServiceClient::new(ch.clone());
    let backup = BackupServiceClient::new(ch.clone());
    let sinks = SinkServiceClient::new(ch.clone());
    let daemon = DaemonServiceClient::new(ch.clone());
    let Ids { draft, scheduled, published, skipped, task, setback, nudge, spare } = *ids;
    let mut t = Table::default();

    // ---- oversized: every RPC, padded past its service's limit -------------
    for &path in ALL_RPCS {
        let ch = ch.clone();
        if path.starts_with("/clout.v1.BackupService/") {
            // An import file may be 64 MiB: 1 MiB is read (and is not a document).
            let want = if path.ends_with("Import") { INVALID } else { OK };
            let c = ch.clone();
            t.add(
                format!("{path}: 1 MiB request (under the 64 MiB import limit)"),
                want,
                padded(c, path, HUGE),
            );
            t.add(format!("{path}: 64 MiB + 1 request"), Code::OutOfRange, padded(ch, path, MAX_IMPORT + 1))
                .says("too large");
        } else {
            let c = ch.clone();
            t.add(format!("{path}: 1 MiB request"), Code::OutOfRange, padded(c, path, HUGE))
                .says("too large");
            t.add(
                format!("{path}: 256 KiB + 1 request"),
                Code::OutOfRange,
                padded(ch, path, MAX_REQUEST + 1),
            )
            .says("too large");
        }
    }

    // ---- DraftService ------------------------------------------------------
    rpc!(t, "AddDraft: empty", INVALID, drafts, add_draft, v1::AddDraftRequest::default()).says("empty");
    // ---- images: bytes are checked by cloutd, drafts name what it keeps --------
    let images = ImageServiceClient::new(ch.clone()).max_encoding_message_size(usize::MAX);
    let add_image = "/clout.v1.ImageService/AddImage";
    rpc!(
        t,
        "AddImage: 1 MiB of text",
        INVALID,
        images,
        add_image,
        v1::AddImageRequest { data: vec![b'x'; HUGE] }
    )
    .says("not a PNG");
    t.add(
        "AddImage: 16 MiB + 1 KiB + 1 request",
        Code::OutOfRange,
        padded(ch.clone(), add_image, 16 * HUGE + KIB + 1),
    )
    .says("too large");
    rpc!(t, "AddImage: no bytes", INVALID, images, add_image, v1::AddImageRequest { data: Vec::new() })
        .says("empty");
    rpc!(
        t,
        "AddImage: a PNG signature without its header",
        INVALID,
        images,
        add_image,
        v1::AddImageRequest { data: b"\x89PNG\r\n\x1a\n".to_vec() }
    )
    .says("width and height");
    rpc!(
        t,
        "AddDraft: an image cloutd does not keep",
        FAILED,
        drafts,
        add_draft,
        v1::AddDraftRequest {
            text: "hi".into(),
            images: vec![v1::DraftImage { part: 1, sha256: "ab".repeat(32), ..Default::default() }],
            ..Default::default()
        }
    )
    .says("add the image to the draft again");
    rpc!(
        t,
        "AddDraft: an image named by a path",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest {
            text: "hi".into(),
            images: vec![v1::DraftImage { part: 1, sha256: "../../etc/passwd".into(), ..Default::default() }],
            ..Default::default()
        }
    )
    .says("sha256");
    rpc!(
        t,
        "AddDraft: an image on part 0",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest {
            text: "hi".into(),
            images: vec![v1::DraftImage { part: 0, sha256: "ab".repeat(32), ..Default::default() }],
            ..Default::default()
        }
    )
    .says("part 0");
    rpc!(
        t,
        "AddDraft: blank text",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: " \n\t ".into(), ..Default::default() }
    )
    .says("empty");
    rpc!(
        t,
        "AddDraft: text of 64 KiB + 1",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: text(64 * KIB + 1), ..Default::default() }
    )
    .says("64 KiB");
    rpc!(
        t,
        "AddDraft: text of 1 MiB",
        Code::OutOfRange,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: text(HUGE), ..Default::default() }
    );
    rpc!(
        t,
        "AddDraft: NUL in text",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: "hello\0world".into(), ..Default::default() }
    )
    .says("NUL");
    rpc!(
        t,
        "AddDraft: title over 1 KiB",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: "ok".into(), title: text(1025), ..Default::default() }
    );
    rpc!(
        t,
        "AddDraft: two-line title",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: "ok".into(), title: "one\ntwo".into(), ..Default::default() }
    );
    for (what, tags) in [
        ("a tag of two words", vec!["two words".to_string()]),
        ("an empty tag", vec![String::new()]),
        ("a tag of 65 bytes", vec![text(65)]),
        ("33 tags", (0..33).map(|i| format!("t{i}")).collect()),
        ("a control character in a tag", vec!["a\u{7}b".to_string()]),
    ] {
        rpc!(
            t,
            format!("AddDraft: {what}"),
            INVALID,
            drafts,
            add_draft,
            v1::AddDraftRequest { text: "ok".into(), tags: tags.clone(), ..Default::default() }
        );
        rpc!(
            t,
            format!("AddDraft: {what} as a platform"),
            INVALID,
            drafts,
            add_draft,
            v1::AddDraftRequest { text: "ok".into(), platforms: tags, ..Default::default() }
        );
    }
    for (what, at) in bad_times() {
        rpc!(
            t,
            format!("AddDraft: at {what}"),
            INVALID,
            drafts,
            add_draft,
            v1::AddDraftRequest { text: "ok".into(), at, ..Default::default() }
        );
    }
    rpc!(
        t,
        "AddDraft: a time and queue",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: "ok".into(), at: in_secs(3600), queue: true, ..Default::default() }
    );
    rpc!(
        t,
        "AddDraft: unknown missed-run policy",
        INVALID,
        drafts,
        add_draft,
        v1::AddDraftRequest { text: "ok".into(), if_missed: "sometimes".into(), ..Default::default() }
    )
    .says("sometimes");

    for id in [0, -1, i64::MIN] {
        rpc!(t, format!("GetDraft: id {id}"), INVALID, drafts, get_draft, v1::GetDraftRequest { id });
        rpc!(
            t,
            format!("DeleteDraft: id {id}"),
            INVALID,
            drafts,
            delete_draft,
            v1::DeleteDraftRequest { id }
        );
        rpc!(
            t,
            format!("UnscheduleDraft: id {id}"),
            INVALID,
            drafts,
            unschedule_draft,
            v1::UnscheduleDraftRequest { id }
        );
        rpc!(t, format!("SkipDraft: id {id}"), INVALID, drafts, skip_draft, v1::SkipDraftRequest { id });
        rpc!(
            t,
            format!("MarkPublished: id {id}"),
            INVALID,
            drafts,
            mark_published,
            v1::MarkPublishedRequest { id, url: String::new() }
        );
        rpc!(
            t,
            format!("ScheduleDraft: id {id}"),
            INVALID,
            drafts,
            schedule_draft,
            v1::ScheduleDraftRequest { id, at: in_secs(3600), queue: false }
        );
        rpc!(
            t,
            format!("UpdateDraft: id {id}"),
            INVALID,
            drafts,
            update_draft,
            v1::UpdateDraftRequest { id, text: Some("new".into()), ..Default::default() }
        );
    }
    for id in [999, i64::MAX] {
        rpc!(
            t,
            format!("GetDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            get_draft,
            v1::GetDraftRequest { id }
        )
        .says("does not exist");
        rpc!(
            t,
            format!("DeleteDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            delete_draft,
            v1::DeleteDraftRequest { id }
        );
        rpc!(
            t,
            format!("UnscheduleDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            unschedule_draft,
            v1::UnscheduleDraftRequest { id }
        );
        rpc!(
            t,
            format!("SkipDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            skip_draft,
            v1::SkipDraftRequest { id }
        );
        rpc!(
            t,
            format!("MarkPublished: unknown id {id}"),
            NOT_FOUND,
            drafts,
            mark_published,
            v1::MarkPublishedRequest { id, url: String::new() }
        );
        rpc!(
            t,
            format!("ScheduleDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            schedule_draft,
            v1::ScheduleDraftRequest { id, at: in_secs(3600), queue: false }
        );
        rpc!(
            t,
            format!("UpdateDraft: unknown id {id}"),
            NOT_FOUND,
            drafts,
            update_draft,
            v1::UpdateDraftRequest { id, text: Some("new".into()), ..Default::default() }
        );
    }

    for (what, states) in [("state 99", vec![99]), ("state UNSPECIFIED", vec![0]), ("state -1", vec![1, -1])]
    {
        rpc!(
            t,
            format!("ListDrafts: {what}"),
            INVALID,
            drafts,
            list_drafts,
            v1::ListDraftsRequest { states, ..Default::default() }
        )
        .says("unknown draft state");
    }

    rpc!(
        t,
        "UpdateDraft: blank text",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: draft, text: Some("   ".into()), ..Default::default() }
    );
    rpc!(
        t,
        "UpdateDraft: text of 64 KiB + 1",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: draft, text: Some(text(64 * KIB + 1)), ..Default::default() }
    );
    rpc!(
        t,
        "UpdateDraft: text of 1 MiB",
        Code::OutOfRange,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: draft, text: Some(text(HUGE)), ..Default::default() }
    );
    rpc!(
        t,
        "UpdateDraft: two-line title",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: draft, title: Some("a\r\nb".into()), ..Default::default() }
    );
    rpc!(
        t,
        "UpdateDraft: a bad tag with a good text",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest {
            id: draft,
            text: Some("a new text that must not be kept".into()),
            replace_tags: true,
            tags: vec!["two words".into()],
            ..Default::default()
        }
    );
    rpc!(
        t,
        "UpdateDraft: a published draft",
        FAILED,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: published, text: Some("rewrite history".into()), ..Default::default() }
    )
    .says("published");

    rpc!(
        t,
        "ScheduleDraft: no time and no queue",
        INVALID,
        drafts,
        schedule_draft,
        v1::ScheduleDraftRequest { id: draft, at: None, queue: false }
    )
    .says("time");
    rpc!(
        t,
        "ScheduleDraft: a time and queue",
        INVALID,
        drafts,
        schedule_draft,
        v1::ScheduleDraftRequest { id: draft, at: in_secs(3600), queue: true }
    );
    for (what, at) in bad_times() {
        rpc!(
            t,
            format!("ScheduleDraft: at {what}"),
            INVALID,
            drafts,
            schedule_draft,
            v1::ScheduleDraftRequest { id: draft, at, queue: false }
        );
    }
    for (what, id) in [("published", published), ("skipped", skipped)] {
        rpc!(
            t,
            format!("ScheduleDraft: a {what} draft"),
            FAILED,
            drafts,
            schedule_draft,
            v1::ScheduleDraftRequest { id, at: in_secs(3600), queue: false }
        )
        .says(what);
        rpc!(
            t,
            format!("UnscheduleDraft: a {what} draft"),
            FAILED,
            drafts,
            unschedule_draft,
            v1::UnscheduleDraftRequest { id }
        );
        rpc!(
            t,
            format!("MarkPublished: a {what} draft"),
            FAILED,
            drafts,
            mark_published,
            v1::MarkPublishedRequest { id, url: String::new() }
        )
        .says("already");
        rpc!(
            t,
            format!("SkipDraft: a {what} draft"),
            FAILED,
            drafts,
            skip_draft,
            v1::SkipDraftRequest { id }
        )
        .says("already");
    }
    rpc!(
        t,
        "UnscheduleDraft: a draft that is not scheduled",
        FAILED,
        drafts,
        unschedule_draft,
        v1::UnscheduleDraftRequest { id: draft }
    )
    .says("not scheduled");
    rpc!(
        t,
        "ScheduleDraft: a scheduled draft moved into the past",
        INVALID,
        drafts,
        schedule_draft,
        v1::ScheduleDraftRequest { id: scheduled, at: in_secs(-600), queue: false }
    )
    .says("in the past");
    rpc!(
        t,
        "MarkPublished: a scheduled draft with a bad URL",
        INVALID,
        drafts,
        mark_published,
        v1::MarkPublishedRequest { id: scheduled, url: "mailto:me@example.org".into() }
    );
    for url in ["not a url", "ftp://example.org/x", "javascript:alert(1)", "example.social/@me/1"] {
        rpc!(
            t,
            format!("MarkPublished: URL {url:?}"),
            INVALID,
            drafts,
            mark_published,
            v1::MarkPublishedRequest { id: draft, url: url.into() }
        )
        .says("URL");
    }
    rpc!(
        t,
        "MarkPublished: URL of 2 KiB + 1",
        INVALID,
        drafts,
        mark_published,
        v1::MarkPublishedRequest { id: draft, url: format!("https://example.social/{}", text(2049)) }
    );
    rpc!(
        t,
        "MarkPublished: URL of 1 MiB",
        Code::OutOfRange,
        drafts,
        mark_published,
        v1::MarkPublishedRequest { id: draft, url: format!("https://example.social/{}", text(HUGE)) }
    );
    rpc!(
        t,
        "MarkPublished: URL without a host",
        INVALID,
        drafts,
        mark_published,
        v1::MarkPublishedRequest { id: spare[0], url: "https://".into() }
    )
    .says("URL");
    rpc!(
        t,
        "MarkPublished: URL with a NUL",
        INVALID,
        drafts,
        mark_published,
        v1::MarkPublishedRequest { id: spare[1], url: "https://exa\0mple.social/@me/1".into() }
    )
    .says("URL");

    // ---- QueueService ------------------------------------------------------
    for h in [-1, i64::MIN] {
        rpc!(
            t,
            format!("Upcoming: horizon {h}"),
            INVALID,
            queue,
            upcoming,
            v1::UpcomingRequest { horizon_seconds: h, limit: 0 }
        )
        .says("negative");
    }
    // Documented as clamped: accepted, and they change nothing.
    rpc!(
        t,
        "Upcoming: horizon i64::MAX and limit u32::MAX (clamped)",
        OK,
        queue,
        upcoming,
        v1::UpcomingRequest { horizon_seconds: i64::MAX, limit: u32::MAX }
    );
    rpc!(t, "Upcoming: empty", OK, queue, upcoming, v1::UpcomingRequest::default());
    rpc!(t, "Shuffle: nothing in slots (a no-op)", OK, queue, shuffle, v1::ShuffleRequest {});
    rpc!(t, "Resume: not paused", FAILED, queue, resume, v1::ResumeRequest {}).says("not paused");

    // ---- NudgeService ------------------------------------------------------
    for after in [-1, i64::MIN] {
        rpc!(
            t,
            format!("Watch: after_id {after}"),
            INVALID,
            nudges,
            watch,
            v1::WatchRequest { after_id: Some(after) }
        );
    }
    rpc!(
        t,
        "ListNudges: limit u32::MAX (clamped)",
        OK,
        nudges,
        list_nudges,
        v1::ListNudgesRequest { limit: u32::MAX, ..Default::default() }
    );
    rpc!(t, "ListNudges: empty", OK, nudges, list_nudges, v1::ListNudgesRequest::default());
    for id in [0, -1, i64::MIN] {
        rpc!(t, format!("Ack: id {id}"), INVALID, nudges, ack, v1::AckRequest { id });
        rpc!(
            t,
            format!("Snooze: id {id}"),
            INVALID,
            nudges,
            snooze,
            v1::SnoozeRequest { id, seconds: 3600, until: None }
        );
    }
    for id in [999, i64::MAX] {
        rpc!(t, format!("Ack: unknown id {id}"), NOT_FOUND, nudges, ack, v1::AckRequest { id })
            .says("does not exist");
        rpc!(
            t,
            format!("Snooze: unknown id {id}"),
            NOT_FOUND,
            nudges,
            snooze,
            v1::SnoozeRequest { id, seconds: 3600, until: None }
        );
    }
    for seconds in [0, 59, -3600, 30 * 86_400 + 1, i64::MAX, i64::MIN] {
        rpc!(
            t,
            format!("Snooze: for {seconds} s"),
            INVALID,
            nudges,
            snooze,
            v1::SnoozeRequest { id: nudge, seconds, until: None }
        )
        .says("snooze for");
    }

    // ---- ProgramService ----------------------------------------------------
    rpc!(t, "GetProgram: empty", OK, program, get_program, v1::GetProgramRequest {});
    rpc!(
        t,
        "SetProgram: empty (changes nothing)",
        OK,
        program,
        set_program,
        v1::SetProgramRequest::default()
    );
    for p in [0, 3, 99, -1] {
        rpc!(
            t,
            format!("SetProgram: purpose {p}"),
            INVALID,
            program,
            set_program,
            v1::SetProgramRequest { purpose: Some(p), ..Default::default() }
        )
        .says("purpose");
    }
    for n in [1001, u32::MAX] {
        rpc!(
            t,
            format!("SetProgram: {n} posts a week"),
            INVALID,
            program,
            set_program,
            v1::SetProgramRequest { posts_per_week: Some(n), ..Default::default() }
        );
        rpc!(
            t,
            format!("SetProgram: {n} engagements a day"),
            INVALID,
            program,
            set_program,
            v1::SetProgramRequest { engagements_per_day: Some(n), ..Default::default() }
        );
    }
    rpc!(
        t,
        "SetProgram: a zone with a typo",
        INVALID,
        program,
        set_program,
        v1::SetProgramRequest { tz: Some("Europe/Berln".into()), ..Default::default() }
    )
    .says("Europe/Berlin");
    for tz in ["", "Mars/Olympus_Mons", "../../etc/passwd", "UTC\0"] {
        rpc!(
            t,
            format!("SetProgram: zone {tz:?}"),
            INVALID,
            program,
            set_program,
            v1::SetProgramRequest { tz: Some(tz.into()), ..Default::default() }
        );
    }
    rpc!(
        t,
        "SetProgram: zone of 200 KiB",
        INVALID,
        program,
        set_program,
        v1::SetProgramRequest { tz: Some(text(200 * KIB)), ..Default::default() }
    );
    rpc!(
        t,
        "SetProgram: good goals with a bad zone",
        INVALID,
        program,
        set_program,
        v1::SetProgramRequest {
            purpose: Some(v1::Purpose::Influence as i32),
            posts_per_week: Some(7),
            engagements_per_day: Some(9),
            tz: Some("Nowhere/Special".into()),
        }
    );
    rpc!(
        t,
        "SetProgram: good purpose with a bad goal",
        INVALID,
        program,
        set_program,
        v1::SetProgramRequest {
            purpose: Some(v1::Purpose::Influence as i32),
            posts_per_week: Some(5000),
            ..Default::default()
        }
    );
    for spec in [
        "",
        "   ",
        "every blue moon",
        "0 0 30 2 *",
        "*/30 * * * * *",
        "61 * * * *",
        "0 25 * * *",
        "0 9 * * 8",
        "0 9 * *",
        "mon 25:00",
        "daily 9\0",
        "@sometimes",
    ] {
        rpc!(
            t,
            format!("AddSlot: {spec:?}"),
            INVALID,
            program,
            add_slot,
            v1::AddSlotRequest { spec: spec.into() }
        );
        rpc!(
            t,
            format!("AddTask: every {spec:?}"),
            INVALID,
            tasks,
            add_task,
            v1::AddTaskRequest { text: "ok".into(), every: spec.into(), ..Default::default() }
        );
        rpc!(
            t,
            format!("PreviewSchedule: {spec:?}"),
            INVALID,
            tasks,
            preview_schedule,
            v1::PreviewScheduleRequest { every: spec.into(), tz: String::new(), count: 3 }
        );
    }
    rpc!(
        t,
        "AddSlot: spec of 200 KiB",
        INVALID,
        program,
        add_slot,
        v1::AddSlotRequest { spec: text(200 * KIB) }
    );
    rpc!(
        t,
        "AddSlot: spec of 1 MiB",
        Code::OutOfRange,
        program,
        add_slot,
        v1::AddSlotRequest { spec: text(HUGE) }
    );
    rpc!(t, "ListSlots: empty", OK, program, list_slots, v1::ListSlotsRequest {});
    for (what, id, want) in [("0", 0, INVALID), ("-1", -1, INVALID), ("999", 999, NOT_FOUND)] {
        rpc!(t, format!("RemoveSlot: id {what}"), want, program, remove_slot, v1::RemoveSlotRequest { id });
        rpc!(
            t,
            format!("RemoveFollow: id {what}"),
            want,
            program,
            remove_follow,
            v1::RemoveFollowRequest { id }
        );
        rpc!(t, format!("RemoveTask: id {what}"), want, tasks, remove_task, v1::RemoveTaskRequest { id });
        rpc!(
            t,
            format!("DoneTask: id {what}"),
            want,
            tasks,
            done_task,
            v1::ResolveTaskRequest { id, next: false }
        );
        rpc!(
            t,
            format!("SkipTask: id {what}"),
            want,
            tasks,
            skip_task,
            v1::ResolveTaskRequest { id, next: false }
        );
        rpc!(t, format!("RemoveSink: id {what}"), want, sinks, remove_sink, v1::RemoveSinkRequest { id });
        rpc!(t, format!("TestSink: id {what}"), want, sinks, test_sink, v1::TestSinkRequest { id });
        rpc!(
            t,
            format!("AddLesson: setback id {what}"),
            want,
            review,
            add_lesson,
            v1::AddLessonRequest { setback_id: id, text: "a lesson".into() }
        );
    }
    let follow = |handle: &str, platform: &str, why: String, topic: String| v1::AddFollowRequest {
        handle: handle.into(),
        platform: platform.into(),
        why,
        topic,
        server: String::new(),
    };
    rpc!(t, "AddFollow: empty", INVALID, program, add_follow, v1::AddFollowRequest::default());
    for (what, req) in [
        ("a handle of two words", follow("@two words", "mastodon", String::new(), String::new())),
        ("a handle of 257 bytes", follow(&text(257), "mastodon", String::new(), String::new())),
        (
            "a control character in the handle",
            follow("@al\u{1b}ice", "mastodon", String::new(), String::new()),
        ),
        ("no platform", follow("@bob", "", String::new(), String::new())),
        ("a platform of two words", follow("@bob", "blue sky", String::new(), String::new())),
        ("a reason over 1 KiB", follow("@bob", "bluesky", text(1025), String::new())),
        ("a topic over 256 bytes", follow("@bob", "bluesky", String::new(), text(257))),
        ("a NUL in the reason", follow("@bob", "bluesky", "why\0".into(), String::new())),
    ] {
        rpc!(t, format!("AddFollow: {what}"), INVALID, program, add_follow, req);
    }
    rpc!(
        t,
        "AddFollow: someone already followed (other letter case)",
        FAILED,
        program,
        add_follow,
        follow("@Alice@Mastodon.Social", "Mastodon", String::new(), String::new())
    )
    .says("already");
    rpc!(t, "ListFollows: empty", OK, program, list_follows, v1::ListFollowsRequest {});

    // ---- TaskService -------------------------------------------------------
    rpc!(t, "AddTask: empty", INVALID, tasks, add_task, v1::AddTaskRequest::default());
    rpc!(
        t,
        "AddTask: no text",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest { every: "daily 10:00".into(), ..Default::default() }
    );
    rpc!(
        t,
        "AddTask: neither schedule nor time",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest { text: "ok".into(), ..Default::default() }
    );
    rpc!(
        t,
        "AddTask: a schedule and a time",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest {
            text: "ok".into(),
            every: "daily 10:00".into(),
            once_at: in_secs(3600),
            ..Default::default()
        }
    );
    rpc!(
        t,
        "AddTask: text of 4 KiB + 1",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest { text: text(4097), every: "daily 10:00".into(), ..Default::default() }
    )
    .says("4096");
    rpc!(
        t,
        "AddTask: text of 100 KiB",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest { text: text(100 * KIB), every: "daily 10:00".into(), ..Default::default() }
    )
    .says("4096");
    rpc!(
        t,
        "AddTask: text of 1 MiB",
        Code::OutOfRange,
        tasks,
        add_task,
        v1::AddTaskRequest { text: text(HUGE), every: "daily 10:00".into(), ..Default::default() }
    );
    for (what, once_at) in bad_times() {
        rpc!(
            t,
            format!("AddTask: once at {what}"),
            INVALID,
            tasks,
            add_task,
            v1::AddTaskRequest { text: "ok".into(), once_at, ..Default::default() }
        );
    }
    for tz in ["Mars/Olympus_Mons", "Europe/Berln", "+01:00", "UTC\0"] {
        rpc!(
            t,
            format!("AddTask: zone {tz:?}"),
            INVALID,
            tasks,
            add_task,
            v1::AddTaskRequest {
                text: "ok".into(),
                every: "daily 10:00".into(),
                tz: tz.into(),
                ..Default::default()
            }
        );
        rpc!(
            t,
            format!("PreviewSchedule: zone {tz:?}"),
            INVALID,
            tasks,
            preview_schedule,
            v1::PreviewScheduleRequest { every: "daily 10:00".into(), tz: tz.into(), count: 3 }
        );
    }
    rpc!(
        t,
        "AddTask: about two words",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest {
            text: "ok".into(),
            every: "daily 10:00".into(),
            about: "@two words".into(),
            ..Default::default()
        }
    );
    rpc!(
        t,
        "AddTask: unknown missed-run policy",
        INVALID,
        tasks,
        add_task,
        v1::AddTaskRequest {
            text: "ok".into(),
            every: "daily 10:00".into(),
            if_missed: "never".into(),
            ..Default::default()
        }
    );
    rpc!(t, "ListTasks: empty", OK, tasks, list_tasks, v1::ListTasksRequest {});
    rpc!(
        t,
        "DoneTask: no occurrence waiting",
        FAILED,
        tasks,
        done_task,
        v1::ResolveTaskRequest { id: task, next: false }
    )
    .says("no occurrence");
    rpc!(
        t,
        "SkipTask: no occurrence waiting",
        FAILED,
        tasks,
        skip_task,
        v1::ResolveTaskRequest { id: task, next: false }
    )
    .says("no occurrence");
    rpc!(
        t,
        "PreviewSchedule: empty",
        INVALID,
        tasks,
        preview_schedule,
        v1::PreviewScheduleRequest::default()
    );
    rpc!(
        t,
        "PreviewSchedule: count u32::MAX (clamped)",
        OK,
        tasks,
        preview_schedule,
        v1::PreviewScheduleRequest { every: "daily 10:00".into(), tz: "UTC".into(), count: u32::MAX }
    );

    // ---- ReviewService -----------------------------------------------------
    let setback_req =
        |text: String, lesson: String| v1::AddSetbackRequest { text, lesson, ..Default::default() };
    rpc!(t, "AddSetback: empty", INVALID, review, add_setback, v1::AddSetbackRequest::default())
        .says("empty");
    rpc!(
        t,
        "AddSetback: blank text",
        INVALID,
        review,
        add_setback,
        setback_req("  \n".into(), String::new())
    )
    .says("empty");
    rpc!(
        t,
        "AddSetback: text of 8 KiB + 1",
        INVALID,
        review,
        add_setback,
        setback_req(text(8193), String::new())
    )
    .says("8192");
    rpc!(
        t,
        "AddSetback: text of 100 KiB",
        INVALID,
        review,
        add_setback,
        setback_req(text(100 * KIB), String::new())
    )
    .says("8192")
    .not_says("empty");
    rpc!(
        t,
        "AddSetback: a NUL in the text",
        INVALID,
        review,
        add_setback,
        setback_req("bad\0day".into(), String::new())
    )
    .not_says("empty");
    rpc!(
        t,
        "AddSetback: text of 1 MiB",
        Code::OutOfRange,
        review,
        add_setback,
        setback_req(text(HUGE), String::new())
    );
    rpc!(
        t,
        "AddSetback: lesson of 8 KiB + 1",
        INVALID,
        review,
        add_setback,
        setback_req("ok".into(), text(8193))
    )
    .says("8192");
    rpc!(
        t,
        "AddSetback: a bad tag",
        INVALID,
        review,
        add_setback,
        v1::AddSetbackRequest { text: "ok".into(), tags: vec!["two words".into()], ..Default::default() }
    );
    rpc!(
        t,
        "AddSetback: a draft and a task",
        INVALID,
        review,
        add_setback,
        v1::AddSetbackRequest {
            text: "ok".into(),
            draft_id: Some(draft),
            task_id: Some(task),
            ..Default::default()
        }
    );
    for (what, draft_id, task_id, want) in [
        ("draft 0", Some(0), None, INVALID),
        ("draft -1", Some(-1), None, INVALID),
        ("task 0", None, Some(0), INVALID),
        ("unknown draft", Some(999), None, NOT_FOUND),
        ("unknown task", None, Some(999), NOT_FOUND),
    ] {
        rpc!(
            t,
            format!("AddSetback: {what}"),
            want,
            review,
            add_setback,
            v1::AddSetbackRequest {
                text: "ok".into(),
                lesson: "and a lesson".into(),
                draft_id,
                task_id,
                ..Default::default()
            }
        );
    }
    rpc!(t, "AddLesson: empty", INVALID, review, add_lesson, v1::AddLessonRequest::default());
    rpc!(
        t,
        "AddLesson: blank text",
        INVALID,
        review,
        add_lesson,
        v1::AddLessonRequest { setback_id: setback, text: " ".into() }
    );
    rpc!(
        t,
        "AddLesson: text of 8 KiB + 1",
        INVALID,
        review,
        add_lesson,
        v1::AddLessonRequest { setback_id: setback, text: text(8193) }
    );
    rpc!(
        t,
        "ListLessons: search over 1 KiB",
        INVALID,
        review,
        list_lessons,
        v1::ListLessonsRequest { tag: String::new(), search: text(1025) }
    );
    rpc!(
        t,
        "ListLessons: tag over 64 bytes",
        INVALID,
        review,
        list_lessons,
        v1::ListLessonsRequest { tag: text(65), search: String::new() }
    );
    rpc!(t, "ListLessons: empty", OK, review, list_lessons, v1::ListLessonsRequest::default());
    rpc!(t, "ListSetbacks: empty", OK, review, list_setbacks, v1::ListSetbacksRequest::default());
    for (what, since) in [("nanos -1", ts(0, -1)), ("seconds i64::MAX", ts(i64::MAX, 0))] {
        rpc!(
            t,
            format!("ListSetbacks: since {what}"),
            INVALID,
            review,
            list_setbacks,
            v1::ListSetbacksRequest { since }
        );
    }
    let now = Utc::now().timestamp();
    for (what, since, until) in [
        ("since nanos -1", ts(now - 86_400, -1), None),
        ("until nanos 1e9", None, ts(now, 1_000_000_000)),
        ("since i64::MIN", ts(i64::MIN, 0), None),
        ("until i64::MAX", None, ts(i64::MAX, 0)),
        ("since after until", ts(now, 0), ts(now - 86_400, 0)),
        ("an empty period", ts(now, 0), ts(now, 0)),
        ("21 years", ts(now - 21 * 366 * 86_400, 0), ts(now, 0)),
    ] {
        rpc!(
            t,
            format!("Review: {what}"),
            INVALID,
            review,
            review,
            v1::ReviewRequest { since, until, heatmap_days: 0 }
        );
    }
    rpc!(
        t,
        "Review: heatmap of u32::MAX days (clamped)",
        OK,
        review,
        review,
        v1::ReviewRequest { heatmap_days: u32::MAX, ..Default::default() }
    );

    // ---- BackupService -----------------------------------------------------
    let import = |json: String| v1::ImportRequest { json };
    rpc!(t, "Export: empty", OK, backup, export, v1::ExportRequest {});
    rpc!(t, "Import: empty", INVALID, backup, import, v1::ImportRequest::default())
        .says("not a Clout export");
    for (what, json) in [
        ("not JSON", "this is not JSON".to_string()),
        ("half an object", "{\"format\": \"clout-export\"".to_string()),
        ("an array", "[]".to_string()),
        ("null", "null".to_string()),
        ("a deep nest", "[".repeat(100_000)),
        ("1 MiB of junk", text(HUGE)),
        ("a BOM and junk", "\u{feff}{}".to_string()),
        ("another format", export_doc(|d| d["format"] = "other".into())),
        ("version 2", export_doc(|d| d["version"] = 2.into())),
        ("version -1", export_doc(|d| d["version"] = (-1).into())),
        ("an unknown field", export_doc(|d| d["extra"] = true.into())),
        ("no program", export_doc(|d| drop(d.as_object_mut().map(|o| o.remove("program"))))),
        ("purpose fame", export_doc(|d| d["program"]["purpose"] = "fame".into())),
        ("an unknown zone", export_doc(|d| d["program"]["tz"] = "Mars/Base".into())),
        ("negative goals", export_doc(|d| d["program"]["posts_per_week"] = (-3).into())),
        ("an empty draft", export_doc(|d| d["drafts"][0]["text"] = "".into())),
        ("a draft of 64 KiB + 1", export_doc(|d| d["drafts"][0]["text"] = text(64 * KIB + 1).into())),
        ("an unknown draft state", export_doc(|d| d["drafts"][0]["state"] = "lost".into())),
        ("a bad time", export_doc(|d| d["drafts"][0]["created_at"] = "yesterday".into())),
        ("a time without zone", export_doc(|d| d["drafts"][0]["created_at"] = "2026-01-01T00:00:00".into())),
        (
            "a bad slot",
            export_doc(|d| {
                d["slots"] =
                    serde_json::json!([{"id": 1, "spec": "never", "created_at": "2026-01-01T00:00:00Z"}])
            }),
        ),
        (
            "an occurrence of a missing task",
            export_doc(|d| {
                d["task_occurrences"] = serde_json::json!([{"task_id": 77, "due_at": "2026-01-01T00:00:00Z",
                    "state": "done", "fired_at": null, "resolved_at": null, "late": false}])
            }),
        ),
        (
            "a lesson of a missing setback",
            export_doc(|d| {
                d["lessons"] = serde_json::json!([{"id": 1, "setback_id": 77, "text": "x", "stage": 0,
                    "next_at": null, "created_at": "2026-01-01T00:00:00Z"}])
            }),
        ),
        (
            "a task with a bad schedule",
            export_doc(|d| {
                d["tasks"] = serde_json::json!([{"id": 1, "text": "x", "every": "0 0 30 2 *", "tz": "UTC",
                    "about": "", "once_at": null, "next_due_at": null, "removed_at": null,
                    "created_at": "2026-01-01T00:00:00Z"}])
            }),
        ),
    ] {
        rpc!(t, format!("Import: {what}"), INVALID, backup, import, import(json));
    }

    // ---- SinkService -------------------------------------------------------
    let sink = |kind: &str, target: &str, args: Vec<String>, format: &str, kinds: Vec<String>| {
        v1::AddSinkRequest { kind: kind.into(), target: target.into(), args, format: format.into(), kinds }
    };
    let none = Vec::new;
    for (what, req) in [
        ("empty", v1::AddSinkRequest::default()),
        ("an unknown kind", sink("pigeon", "", none(), "", none())),
        ("a webhook without URL", sink("webhook", "", none(), "", none())),
        ("a webhook to ftp", sink("webhook", "ftp://example.org/x", none(), "", none())),
        ("a webhook to a file", sink("webhook", "file:///etc/passwd", none(), "", none())),
        ("a webhook without host", sink("webhook", "https:///hook", none(), "", none())),
        ("a webhook without scheme", sink("webhook", "ntfy.sh/topic", none(), "", none())),
        ("a webhook URL with a space", sink("webhook", "http://a b/", none(), "", none())),
        (
            "a webhook URL over 4 KiB",
            sink("webhook", &format!("https://h/{}", text(4097)), none(), "", none()),
        ),
        ("a webhook format xml", sink("webhook", "https://ntfy.sh/t", none(), "xml", none())),
        ("a webhook with arguments", sink("webhook", "https://ntfy.sh/t", vec!["-x".into()], "", none())),
        ("a command without program", sink("command", "", none(), "", none())),
        ("a command that does not exist", sink("command", "/nonexistent/clout-hook", none(), "", none())),
        ("a command with a format", sink("command", "/bin/true", none(), "ntfy", none())),
        ("a command with 65 arguments", sink("command", "/bin/true", vec!["a".into(); 65], "", none())),
        ("a command argument with a NUL", sink("command", "/bin/true", vec!["a\0b".into()], "", none())),
        ("a command argument over 4 KiB", sink("command", "/bin/true", vec![text(4097)], "", none())),
        ("a desktop sink with a target", sink("desktop", "somewhere", none(), "", none())),
        ("a desktop sink with arguments", sink("desktop", "", vec!["x".into()], "", none())),
        ("an event kind of two words", sink("desktop", "", none(), "", vec!["post due".into()])),
        ("an empty event kind", sink("desktop", "", none(), "", vec![String::new()])),
        ("33 event kinds", sink("desktop", "", none(), "", (0..33).map(|i| format!("k{i}")).collect())),
    ] {
        rpc!(t, format!("AddSink: {what}"), INVALID, sinks, add_sink, req);
    }
    rpc!(
        t,
        "AddSink: a second sink to the same command",
        Code::AlreadyExists,
        sinks,
        add_sink,
        sink("command", "/bin/true", none(), "", none())
    )
    .says("already");
    rpc!(
        t,
        "AddSink: a target of 1 MiB",
        Code::OutOfRange,
        sinks,
        add_sink,
        sink("webhook", &text(HUGE), none(), "", none())
    );
    rpc!(t, "ListSinks: empty", OK, sinks, list_sinks, v1::ListSinksRequest {});

    // ---- DaemonService -----------------------------------------------------
    rpc!(t, "Status: empty", OK, daemon, status, v1::StatusRequest {});

    // ---- publishing: DraftService fields and AccountService ----------------
    let accounts = AccountServiceClient::new(ch.clone());
    let post = |f: fn(&mut v1::AddDraftRequest)| {
        let mut r = v1::AddDraftRequest { text: "ok".into(), ..Default::default() };
        f(&mut r);
        r
    };
    for (what, req, says) in [
        ("an unknown account", post(|r| r.accounts = vec!["nobody".into()]), "no account named"),
        ("visibility `everyone`", post(|r| r.visibility = "everyone".into()), "visibility"),
        ("language `english!`", post(|r| r.language = "english!".into()), "language"),
        ("language of 1 KiB", post(|r| r.language = text(KIB)), "language"),
        ("a two-line content warning", post(|r| r.content_warning = "a\nb".into()), "content warning"),
        ("a content warning of 501 characters", post(|r| r.content_warning = text(501)), "content warning"),
    ] {
        rpc!(t, format!("AddDraft: {what}"), INVALID, drafts, add_draft, req).says(says);
    }
    rpc!(
        t,
        "UpdateDraft: an unknown account",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest {
            id: draft,
            replace_accounts: true,
            accounts: vec!["nobody".into()],
            ..Default::default()
        }
    )
    .says("clout account list");
    rpc!(
        t,
        "UpdateDraft: visibility `loud`",
        INVALID,
        drafts,
        update_draft,
        v1::UpdateDraftRequest { id: draft, visibility: Some("loud".into()), ..Default::default() }
    );
    rpc!(t, "RetryDraft: id 0", INVALID, drafts, retry_draft, v1::RetryDraftRequest { id: 0 });
    rpc!(t, "RetryDraft: an unknown id", NOT_FOUND, drafts, retry_draft, v1::RetryDraftRequest { id: 999 });
    rpc!(t, "RetryDraft: a plain draft", FAILED, drafts, retry_draft, v1::RetryDraftRequest { id: draft })
        .says("only partial or failed");
    rpc!(
        t,
        "RetryDraft: a published draft",
        FAILED,
        drafts,
        retry_draft,
        v1::RetryDraftRequest { id: published }
    );

    // A private secret file, for the cases that get past the file check.
    let private = std::env::temp_dir().join(format!("clout-bad-input-{}.token", std::process::id()));
    std::fs::write(&private, "token\n").expect("write secret");
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let private = private.display().to_string();
    let acct = |network: &str, server: &str, handle: &str, file: &str| v1::AddAccountRequest {
        network: network.into(),
        name: String::new(),
        server: server.into(),
        handle: handle.into(),
        secret_file: file.into(),
        skip_check: false,
        secret: String::new(),
        appview: String::new(),
    };
    let inline = |secret: &str| v1::AddAccountRequest {
        secret_file: String::new(),
        secret: secret.into(),
        ..acct("mastodon", "https://x.org", "", "")
    };
    for (what, req, says) in [
        ("empty", v1::AddAccountRequest::default(), "not supported"),
        ("network myspace", acct("myspace", "https://x.org", "", &private), "not supported"),
        ("Mastodon without an instance", acct("mastodon", "", "", &private), "--instance"),
        (
            "Mastodon over plain http",
            acct("mastodon", "http://mastodon.example", "", &private),
            "unencrypted",
        ),
        ("a server with a path", acct("mastodon", "https://x.org/api", "", &private), "without a path"),
        ("a server that is no URL", acct("mastodon", "not a url", "", &private), "URL"),
        ("Bluesky without a handle", acct("bluesky", "", "", &private), "--handle"),
        ("a handle with a space", acct("bluesky", "", "a b", &private), "handle"),
        ("no secret file", acct("mastodon", "https://x.org", "", ""), "--token-file"),
        ("a relative secret file", acct("mastodon", "https://x.org", "", "token"), "absolute"),
        ("a missing secret file", acct("mastodon", "https://x.org", "", "/nonexistent/token"), "cannot read"),
        ("a secret file others can read", acct("mastodon", "https://x.org", "", "/etc/passwd"), "chmod 600"),
        ("a directory as secret file", acct("mastodon", "https://x.org", "", "/"), "not a regular file"),
        ("an inline secret of two lines", inline("one\ntwo"), "one line"),
        ("an inline secret over 4 KiB", inline(&"x".repeat(5000)), "4096 bytes"),
        (
            "a secret both inline and in a file",
            v1::AddAccountRequest { secret: "t".into(), ..acct("mastodon", "https://x.org", "", &private) },
            "not both",
        ),
    ] {
        rpc!(t, format!("AddAccount: {what}"), INVALID, accounts, add_account, req).says(says);
    }
    let mut named = acct("mastodon", "https://x.org", "", &private);
    named.name = "two words".into();
    rpc!(t, "AddAccount: a name with a space", INVALID, accounts, add_account, named).says("account name");
    rpc!(
        t,
        "AddAccount: a server that does not answer",
        FAILED,
        accounts,
        add_account,
        acct("mastodon", "http://127.0.0.1:9", "", &private)
    )
    .says("Nothing was added");
    rpc!(t, "ListAccounts: empty", OK, accounts, list_accounts, v1::ListAccountsRequest {});
    rpc!(t, "RemoveAccount: empty", INVALID, accounts, remove_account, v1::RemoveAccountRequest::default());
    rpc!(
        t,
        "RemoveAccount: an unknown name",
        INVALID,
        accounts,
        remove_account,
        v1::RemoveAccountRequest { name: "nobody".into(), force: true }
    )
    .says("no account named");
    rpc!(t, "CheckAccount: empty", INVALID, accounts, check_account, v1::CheckAccountRequest::default());
    rpc!(
        t,
        "CheckAccount: an unknown name",
        INVALID,
        accounts,
        check_account,
        v1::CheckAccountRequest { name: "nobody".into() }
    )
    .says("no account named");

    t
}

#[test]
fn every_rpc_refuses_bad_input_with_the_right_code_and_changes_nothing() {
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, QUIET_RULES).expect("write config");
    let _d =
        home.start_with(&["--config", config.to_str().expect("utf-8 path")]).expect("cloutd did not start");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let failures = rt.block_on(async {
        let ch = clout_proto::connect_unix(&home.socket(), Duration::from_secs(5)).await.expect("connect");
        let ids = seed(&ch).await;
        let mut table = table(&ch, &ids);
        let total = table.cases.len();
        let first = snapshot(&ch).await;
        let mut failures: Vec<String> = Vec::new();
        for case in &mut table.cases {
            let before = snapshot(&ch).await;
            let result = case.call.take().expect("each case runs once").await;
            let after = snapshot(&ch).await;
            let mut wrong: Vec<String> = Vec::new();
            let (code, msg) = match &result {
                Ok(()) => (Code::Ok, String::new()),
                Err(s) => (s.code(), s.message().to_string()),
            };
            if code != case.want {
                wrong.push(format!("got {code:?} ({msg:?}), want {:?}", case.want));
            }
            if case.want != Code::Ok && code != Code::Ok {
                if let Some(why) = unclear(&msg) {
                    wrong.push(format!("unclear message ({why}): {msg:?}"));
                }
                for w in &case.says {
                    if !msg.contains(w) {
                        wrong.push(format!("the message does not say {w:?}: {msg:?}"));
                    }
                }
                for w in &case.not_says {
                    if msg.contains(w) {
                        wrong.push(format!("the message says {w:?}: {msg:?}"));
                    }
                }
            }
            if before != after {
                wrong.push(format!("it changed the state: {}", first_difference(&before, &after)));
            }
            if !wrong.is_empty() {
                failures.push(format!("{}: {}", case.name, wrong.join("; ")));
            }
        }
        let last = snapshot(&ch).await;
        if first != last {
            failures.push(format!(
                "the table as a whole changed the state (the cases above say which): {}",
                first_difference(&first, &last)
            ));
        }
        eprintln!("bad-input table: {total} cases, {} failed", failures.len());
        failures
    });
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

// ---- the CLI ------------------------------------------------------------------

/// Runs `clout ARGS` (arguments may be any bytes) with `stdin`; `None` when the
/// OS refuses to start it (an argument over its limit, E2BIG).
fn clout_raw(home: &Home, args: &[&OsStr], stdin: &[u8]) -> Option<std::process::Output> {
    let mut cmd = Command::new(bin("clout"));
    cmd.args(args)
        .env("CLOUT_SOCKET", home.socket())
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.raw_os_error() == Some(libc::E2BIG) => return None,
        Err(e) => panic!("spawn clout: {e}"),
    };
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for clout");
    let _ = writer.join();
    Some(out)
}

struct CliCase<'a> {
    what: &'static str,
    args: Vec<&'a OsStr>,
    stdin: &'a [u8],
    /// Words the error must contain.
    says: &'static [&'static str],
}

#[test]
fn the_cli_refuses_bad_text_with_a_clear_message_and_adds_nothing() {
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, QUIET_RULES).expect("write config");
    let _d =
        home.start_with(&["--config", config.to_str().expect("utf-8 path")]).expect("cloutd did not start");
    let keep = home.json(&["draft", "add", "the one good draft"]);
    let state = |home: &Home| {
        let drafts = home.json(&["draft", "list"]);
        let tasks = home.json(&["task", "list"]);
        let lessons = home.json(&["lessons"]);
        let nudges = home.json(&["nudges", "--all"]);
        format!("{drafts}\n{tasks}\n{lessons}\n{nudges}")
    };
    let before = state(&home);

    let not_utf8: &[u8] = b"caf\xe9 \xff\xfe";
    let over_64k = text(100 * KIB);
    let huge = text(HUGE);
    let keep_id = keep["id"].to_string();
    let raw = OsStr::from_bytes(not_utf8);
    let s = OsStr::new;
    let cases = [
        CliCase {
            what: "draft add - with non-UTF-8 stdin",
            args: vec![s("draft"), s("add"), s("-")],
            stdin: not_utf8,
            says: &["UTF-8"],
        },
        CliCase {
            what: "draft add - with 1 MiB on stdin",
            args: vec![s("draft"), s("add"), s("-")],
            stdin: huge.as_bytes(),
            says: &["64 KiB"],
        },
        CliCase {
            what: "draft add with a non-UTF-8 argument",
            args: vec![s("draft"), s("add"), raw],
            stdin: b"",
            says: &["UTF-8"],
        },
        CliCase {
            what: "draft add with a 100 KiB argument",
            args: vec![s("draft"), s("add"), s(&over_64k)],
            stdin: b"",
            says: &["64 KiB"],
        },
        CliCase {
            what: "draft add with a 1 MiB argument",
            args: vec![s("draft"), s("add"), s(&huge)],
            stdin: b"",
            says: &["64 KiB"],
        },
        CliCase {
            what: "draft edit --text with a non-UTF-8 argument",
            args: vec![s("draft"), s("edit"), s(&keep_id), s("--text"), raw],
            stdin: b"",
            says: &["UTF-8"],
        },
        CliCase {
            what: "draft edit --text - with non-UTF-8 stdin",
            args: vec![s("draft"), s("edit"), s(&keep_id), s("--text"), s("-")],
            stdin: not_utf8,
            says: &["UTF-8"],
        },
        CliCase {
            what: "draft edit --text - with 1 MiB on stdin",
            args: vec![s("draft"), s("edit"), s(&keep_id), s("--text"), s("-")],
            stdin: huge.as_bytes(),
            says: &["64 KiB"],
        },
        CliCase {
            what: "task add with a non-UTF-8 text",
            args: vec![s("task"), s("add"), raw, s("--every"), s("daily 10:00")],
            stdin: b"",
            says: &["UTF-8"],
        },
        CliCase {
            what: "task add with a 100 KiB text",
            args: vec![s("task"), s("add"), s(&over_64k), s("--every"), s("daily 10:00")],
            stdin: b"",
            says: &["4096"],
        },
        CliCase {
            what: "task add with a 1 MiB text",
            args: vec![s("task"), s("add"), s(&huge), s("--every"), s("daily 10:00")],
            stdin: b"",
            says: &["4096"],
        },
        CliCase {
            what: "setback with a non-UTF-8 text",
            args: vec![s("setback"), raw],
            stdin: b"",
            says: &["UTF-8"],
        },
        CliCase {
            what: "setback with a 100 KiB text",
            args: vec![s("setback"), s(&over_64k)],
            stdin: b"",
            says: &["8192"],
        },
        CliCase {
            what: "setback with a 1 MiB text",
            args: vec![s("setback"), s(&huge)],
            stdin: b"",
            says: &["8192"],
        },
        CliCase {
            what: "setback with a non-UTF-8 lesson",
            args: vec![s("setback"), s("it went wrong"), s("--lesson"), raw],
            stdin: b"",
            says: &["UTF-8"],
        },
    ];
    // Cases whose message is wrong today because of a daemon bug (reported).
    let mut failures = Vec::new();
    let mut ran = 0;
    for CliCase { what, args, stdin, says: words } in cases {
        let Some(out) = clout_raw(&home, &args, stdin) else {
            eprintln!("{what}: the OS refused an argument that long (E2BIG): nothing to test");
            continue;
        };
        ran += 1;
        let err = stderr(&out);
        let mut wrong = Vec::new();
        if out.status.success() {
            wrong.push("it succeeded".to_string());
        }
        if let Some(why) = unclear(err.lines().next().unwrap_or("")) {
            wrong.push(format!("unclear message ({why})"));
        }
        for w in words {
            if !err.contains(w) {
                wrong.push(format!("the message does not say {w:?}"));
            }
        }
        if err.contains("panicked") {
            wrong.push("it panicked".into());
        }
        if !wrong.is_empty() {
            let shown: String = err.chars().take(400).collect();
            failures.push(format!("{what}: {}; stderr: {shown:?}", wrong.join("; ")));
        }
    }
    assert!(ran >= 10, "only {ran} CLI cases could run");
    let after = state(&home);
    if before != after {
        failures.push(format!("the CLI cases changed the state: {}", first_difference(&before, &after)));
    }
    assert!(failures.is_empty(), "{} CLI case(s) failed:\n{}", failures.len(), failures.join("\n"));
}
