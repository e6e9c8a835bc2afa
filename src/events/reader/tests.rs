//! The event-log reader's tests: the splitter on every chunking, and the pipe against
//! writers that behave like pulumi (and some that do not).

use super::*;
use futures_util::StreamExt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const PRELUDE: &str = r#""preludeEvent":{"config":{}}"#;
const CANCEL: &str = r#""cancelEvent":{}"#;

fn line(seq: u64, payload: &str) -> String {
    format!("{{\"sequence\":{seq},\"timestamp\":1700000000,{payload}}}\n")
}

fn diag(seq: u64) -> String {
    line(
        seq,
        &format!(
            r#""diagnosticEvent":{{"message":"line {seq}\n","color":"never","severity":"info"}}"#
        ),
    )
}

/// A run's worth of lines: prelude, `n` diagnostics, cancel.
fn run(n: u64) -> String {
    let mut s = line(0, PRELUDE);
    for i in 1..=n {
        s += &diag(i);
    }
    s + &line(n + 1, CANCEL)
}

/// Opens the pipe as the CLI does: O_RDWR|O_CREATE|O_TRUNC|O_APPEND.
fn open_like_pulumi(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .custom_flags(nix::fcntl::OFlag::O_TRUNC.bits() | nix::fcntl::OFlag::O_APPEND.bits())
        .open(path)
        .unwrap()
}

/// Opens the pipe write-only: O_WRONLY|O_CREATE|O_TRUNC|O_APPEND.
fn open_write_only(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(nix::fcntl::OFlag::O_TRUNC.bits() | nix::fcntl::OFlag::O_APPEND.bits())
        .open(path)
        .unwrap()
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

fn events(items: Vec<EventItem>) -> Vec<EngineEvent> {
    items.into_iter().map(|i| i.unwrap()).collect()
}

fn assert_contiguous(evs: &[EngineEvent]) {
    for (i, ev) in evs.iter().enumerate() {
        assert_eq!(ev.sequence, i as u64, "{ev:?}");
    }
}

// ---- the line splitter ----

fn split_all(chunks: &[&[u8]], max_line: usize) -> (Vec<EventItem>, Option<EventReadError>) {
    let mut s = LineSplitter::new(max_line);
    let mut out = Vec::new();
    for c in chunks {
        s.feed(c, &mut out);
    }
    let end = s.finish();
    (out, end)
}

#[test]
fn splitter_handles_every_chunking() {
    let text = run(3);
    for size in [1, 2, 7, 50, 64, 1000] {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
        let (out, end) = split_all(&chunks, MAX_LINE);
        let evs = events(out);
        assert_eq!(evs.len(), 5, "chunk size {size}");
        assert_contiguous(&evs);
        assert!(end.is_none());
    }
}

#[test]
fn splitter_reports_a_partial_last_line() {
    let text = line(0, PRELUDE) + "{\"sequence\":1,\"timest";
    let (out, end) = split_all(&[text.as_bytes()], MAX_LINE);
    assert_eq!(out.len(), 1);
    let Some(EventReadError::Truncated { snippet }) = end else {
        panic!("{end:?}")
    };
    assert_eq!(snippet, "{\"sequence\":1,\"timest");
}

#[test]
fn splitter_skips_blank_lines_and_crlf() {
    let text = format!("\n  \n{}\r\n\n", line(0, CANCEL).trim_end());
    let (out, end) = split_all(&[text.as_bytes(), b"   "], MAX_LINE);
    assert!(events(out)[0].is_cancel());
    assert!(end.is_none());
}

#[test]
fn splitter_reports_bad_lines_and_goes_on() {
    let text = format!(
        "garbage\n{}\u{1}\u{ff}\n{}",
        line(0, PRELUDE),
        line(1, CANCEL)
    );
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\n");
    let (out, _) = split_all(&[&bytes], MAX_LINE);
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(matches!(out[0], Err(EventReadError::Parse(_))));
    assert!(out[1].is_ok());
    assert!(matches!(out[2], Err(EventReadError::Parse(_))));
    assert!(out[3].is_ok());
    assert!(matches!(out[4], Err(EventReadError::Parse(_))));
}

#[test]
fn splitter_skips_too_long_lines() {
    let max = 100;
    let long = "x".repeat(250);
    // Over-long, whether it arrives in one piece or many, complete or not.
    let text = format!("{long}\n{}{long}\n{}", line(0, PRELUDE), line(1, CANCEL));
    for size in [1, 30, 99, 100, 101, 1000] {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
        let (out, end) = split_all(&chunks, max);
        assert_eq!(out.len(), 4, "size {size}: {out:?}");
        assert!(matches!(
            out[0],
            Err(EventReadError::LineTooLong { limit: 100 })
        ));
        assert_eq!(out[1].as_ref().unwrap().sequence, 0);
        assert!(matches!(out[2], Err(EventReadError::LineTooLong { .. })));
        assert_eq!(out[3].as_ref().unwrap().sequence, 1);
        assert!(end.is_none());
    }
    // A line of exactly the limit is accepted.
    let exact = line(0, CANCEL);
    let (out, _) = split_all(&[exact.as_bytes()], exact.len() - 1);
    assert!(out[0].is_ok());
    // An over-long unfinished tail is not reported twice.
    let (out, end) = split_all(&[long.as_bytes()], max);
    assert_eq!(out.len(), 1);
    assert!(end.is_none());
}

#[test]
fn truncated_snippet_is_bounded() {
    let (_, end) = split_all(&["é".repeat(10_000).as_bytes()], MAX_LINE);
    let Some(EventReadError::Truncated { snippet }) = end else {
        panic!()
    };
    assert_eq!(snippet.chars().count(), 200);
}

// ---- the pipe ----

#[tokio::test]
async fn the_fifo_is_private_and_removed_on_drop() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let (log, mut stream) = EventLog::create(dir.path()).unwrap();
    let path = log.path().to_path_buf();
    assert_eq!(path, dir.path().join(FIFO_NAME));
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o077, 0);
    // A second log in the same directory is refused.
    assert!(EventLog::create(dir.path()).is_err());
    drop(log);
    assert!(!path.exists());
    // The reader is gone: the stream ends.
    assert!(within(stream.next()).await.is_none());
}

#[test]
fn create_outside_a_runtime_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(EventLog::create(dir.path()).is_err());
    assert!(!dir.path().join(FIFO_NAME).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_chunks_arrive_whole_in_order_and_the_stream_ends_at_cancel() {
    for open in [open_like_pulumi, open_write_only] {
        let dir = tempfile::tempdir().unwrap();
        let (log, stream) = EventLog::create(dir.path()).unwrap();
        let path = log.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            let mut f = open(&path);
            let text = run(500);
            let bytes = text.as_bytes();
            // Sizes that split lines anywhere and put many lines in one write.
            let sizes = [1usize, 3, 17, 100, 4096, 5000, 65_537, 2];
            let mut at = 0;
            let mut k = 0;
            while at < bytes.len() {
                let end = (at + sizes[k % sizes.len()]).min(bytes.len());
                f.write_all(&bytes[at..end]).unwrap();
                at = end;
                k += 1;
            }
            // Keep the pipe open, like a CLI that has not exited yet.
            std::thread::sleep(Duration::from_millis(300));
        });
        // No process_exited: the cancelEvent alone ends the stream.
        let evs = events(within(stream.collect::<Vec<_>>()).await);
        assert_eq!(evs.len(), 502);
        assert_contiguous(&evs);
        assert!(evs.last().unwrap().is_cancel());
        assert!(evs[..501].iter().all(|e| !e.is_cancel()));
        writer.join().unwrap();
        log.process_exited();
    }
}

#[tokio::test]
async fn a_writer_that_never_opens_ends_promptly_with_no_items() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut stream) = EventLog::create(dir.path()).unwrap();
    // Nothing arrives, and nothing ends the stream, before the exit.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err()
    );
    let started = std::time::Instant::now();
    log.process_exited();
    assert!(within(stream.next()).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_line_gives_the_complete_events_then_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let (log, stream) = EventLog::create(dir.path()).unwrap();
    let path = log.path().to_path_buf();
    std::thread::spawn(move || {
        let mut f = open_like_pulumi(&path);
        f.write_all((line(0, PRELUDE) + &diag(1)).as_bytes())
            .unwrap();
        f.write_all(b"{\"sequence\":2,\"timestamp\":17000").unwrap();
        // The process dies: its descriptor closes.
    })
    .join()
    .unwrap();
    log.process_exited();
    let items = within(stream.collect::<Vec<_>>()).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().sequence, 0);
    assert_eq!(items[1].as_ref().unwrap().sequence, 1);
    let Err(EventReadError::Truncated { snippet }) = &items[2] else {
        panic!("{items:?}")
    };
    assert!(snippet.starts_with("{\"sequence\":2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_still_in_the_pipe_at_exit_is_delivered() {
    // The consumer only starts after the process has exited.
    let dir = tempfile::tempdir().unwrap();
    let (log, stream) = EventLog::create(dir.path()).unwrap();
    let path = log.path().to_path_buf();
    let text = run(200);
    let bytes = text.clone().into_bytes();
    std::thread::spawn(move || open_like_pulumi(&path).write_all(&bytes).unwrap())
        .join()
        .unwrap();
    log.process_exited();
    let evs = events(within(stream.collect::<Vec<_>>()).await);
    assert_eq!(evs.len(), 202);
    assert_contiguous(&evs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_with_a_slow_consumer_none_lost_and_memory_bounded() {
    const N: u64 = 100_000;
    const CAPACITY: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let options = EventLogOptions::default().capacity(CAPACITY);
    let (log, mut stream) = EventLog::create_with(dir.path(), options).unwrap();
    let path = log.path().to_path_buf();
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let writer = std::thread::spawn(move || {
        let mut f = open_like_pulumi(&path);
        f.write_all(line(0, PRELUDE).as_bytes()).unwrap();
        for i in 1..=N {
            // One write per event, as the CLI does.
            f.write_all(diag(i).as_bytes()).unwrap();
            w.store(i, Ordering::SeqCst);
        }
        f.write_all(line(N + 1, CANCEL).as_bytes()).unwrap();
    });
    let mut expected = 0u64;
    let mut max_ahead = 0u64;
    while let Some(item) = within(stream.next()).await {
        let ev = item.unwrap();
        assert_eq!(ev.sequence, expected);
        expected += 1;
        if expected.is_multiple_of(5_000) {
            // Slow: let the writer run ahead as far as it can.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let ahead = written.load(Ordering::SeqCst).saturating_sub(expected);
            max_ahead = max_ahead.max(ahead);
        }
    }
    assert_eq!(expected, N + 2);
    writer.join().unwrap();
    log.process_exited();
    // The writer was held back: the channel, one read chunk and the pipe's buffer
    // (64 KiB on Linux; the bound allows 256 KiB) hold ~1000 of these ~90-byte
    // lines, not 100k.
    let line_len = diag(N).len() as u64;
    let bound = CAPACITY as u64 + (2 * CHUNK as u64 + 256 * 1024) / line_len;
    assert!(
        max_ahead > 0 && max_ahead < bound,
        "ahead {max_ahead}, bound {bound}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_while_the_writer_is_still_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut stream) = EventLog::create(dir.path()).unwrap();
    let path = log.path().to_path_buf();
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<u64>();
    let writer = std::thread::spawn(move || {
        let mut f = open_like_pulumi(&path);
        f.write_all(line(0, PRELUDE).as_bytes()).unwrap();
        // Half of the next line, then wait until the reader has seen event 0.
        let next = diag(1);
        let (a, b) = next.split_at(10);
        f.write_all(a.as_bytes()).unwrap();
        assert_eq!(ack_rx.recv().unwrap(), 0);
        f.write_all(b.as_bytes()).unwrap();
        assert_eq!(ack_rx.recv().unwrap(), 1);
        f.write_all(line(2, CANCEL).as_bytes()).unwrap();
    });
    for seq in 0..2 {
        let ev = within(stream.next()).await.unwrap().unwrap();
        assert_eq!(ev.sequence, seq);
        ack_tx.send(seq).unwrap();
    }
    assert!(within(stream.next()).await.unwrap().unwrap().is_cancel());
    assert!(within(stream.next()).await.is_none());
    writer.join().unwrap();
    drop(log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_process_exit_mode_reads_every_engine_run() {
    let dir = tempfile::tempdir().unwrap();
    let options = EventLogOptions::default().end(StreamEnd::AtProcessExit);
    let (log, stream) = EventLog::create_with(dir.path(), options).unwrap();
    let path = log.path().to_path_buf();
    std::thread::spawn(move || {
        // Two engine runs (a preview, then the update), each opening the log anew.
        open_like_pulumi(&path)
            .write_all(run(2).as_bytes())
            .unwrap();
        open_like_pulumi(&path)
            .write_all(run(3).as_bytes())
            .unwrap();
    })
    .join()
    .unwrap();
    let collect = tokio::spawn(stream.collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!collect.is_finished(), "ended before the process exited");
    log.process_exited();
    let evs = events(within(collect).await.unwrap());
    let seqs: Vec<u64> = evs.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 0, 1, 2, 3, 4]);
    assert_eq!(evs.iter().filter(|e| e.is_cancel()).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_never_blocks_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (log, stream) =
        EventLog::create_with(dir.path(), EventLogOptions::default().capacity(1)).unwrap();
    drop(stream);
    let path = log.path().to_path_buf();
    // Far more than the pipe and the channel hold.
    let text = run(50_000);
    let writer = std::thread::spawn(move || open_like_pulumi(&path).write_all(text.as_bytes()));
    let done = tokio::task::spawn_blocking(move || writer.join().unwrap());
    within(done).await.unwrap().unwrap();
    log.process_exited();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_cancel_the_pipe_is_still_drained() {
    let dir = tempfile::tempdir().unwrap();
    let (log, stream) = EventLog::create(dir.path()).unwrap();
    let path = log.path().to_path_buf();
    let first = run(1);
    let junk = run(50_000);
    let writer = std::thread::spawn(move || {
        let mut f = open_like_pulumi(&path);
        f.write_all(first.as_bytes()).unwrap();
        // Anything after the cancelEvent is read and dropped, never blocking.
        f.write_all(junk.as_bytes()).unwrap();
    });
    let evs = events(within(stream.collect::<Vec<_>>()).await);
    assert_eq!(evs.len(), 3);
    let done = tokio::task::spawn_blocking(move || writer.join().unwrap());
    within(done).await.unwrap();
    log.process_exited();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_lines_through_the_pipe_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let options = EventLogOptions::default().max_line(1000);
    let (log, stream) = EventLog::create_with(dir.path(), options).unwrap();
    let path = log.path().to_path_buf();
    std::thread::spawn(move || {
        let mut f = open_like_pulumi(&path);
        f.write_all(line(0, PRELUDE).as_bytes()).unwrap();
        let huge = format!(
            r#""stdoutEvent":{{"message":"{}","color":"never"}}"#,
            "z".repeat(200_000)
        );
        f.write_all(line(1, &huge).as_bytes()).unwrap();
        f.write_all(line(2, CANCEL).as_bytes()).unwrap();
    })
    .join()
    .unwrap();
    let items = within(stream.collect::<Vec<_>>()).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().sequence, 0);
    assert!(matches!(
        items[1],
        Err(EventReadError::LineTooLong { limit: 1000 })
    ));
    assert!(items[2].as_ref().unwrap().is_cancel());
    log.process_exited();
}

#[tokio::test]
async fn dropping_the_log_ends_the_stream_even_mid_run() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut stream) = EventLog::create(dir.path()).unwrap();
    // Write-only: a writer that is not also a reader (as the CLI's O_RDWR is) sees
    // EPIPE once the reader is gone.
    let mut f = open_write_only(log.path());
    f.write_all((line(0, PRELUDE) + "{\"partial").as_bytes())
        .unwrap();
    assert_eq!(within(stream.next()).await.unwrap().unwrap().sequence, 0);
    drop(log);
    assert!(within(stream.next()).await.is_none());
    // The writer's later writes fail (no reader) instead of blocking.
    let err = f.write_all(line(1, CANCEL).as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

// ---- files ----

#[test]
fn recorded_files_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    std::fs::write(&path, run(3)).unwrap();
    let evs = read_event_log_file(&path).unwrap();
    assert_eq!(evs.len(), 5);
    assert_contiguous(&evs);

    std::fs::write(&path, run(1) + "{\"sequence\":3").unwrap();
    let Err(EventReadError::Parse(e)) = read_event_log_file(&path) else {
        panic!()
    };
    assert!(e.reason.starts_with("line 4:"), "{e}");

    let missing = read_event_log_file(dir.path().join("nope"));
    let Err(EventReadError::Io(e)) = missing else {
        panic!()
    };
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(read_event_log_file(dir.path().join("nope")).is_err());

    std::fs::write(&path, "").unwrap();
    assert!(read_event_log_file(&path).unwrap().is_empty());
}
