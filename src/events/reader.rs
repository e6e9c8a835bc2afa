//! Reading the CLI's `--event-log` as it is written, without polling.
//!
//! The log is a named pipe (FIFO) in a directory the caller owns. We open its read end
//! (non-blocking) and also hold a write end ourselves, so opening never blocks, and no
//! end-of-file is seen before the CLI opens the pipe, or if it never does (an error
//! before the engine starts, e.g. a locked stack). The CLI opens the path
//! `O_RDWR|O_CREATE|O_TRUNC|O_APPEND` once per engine run; on a FIFO that neither blocks
//! nor truncates.
//!
//! Complete lines are parsed and sent, in order, through a bounded channel to an
//! [`EventStream`]; a partial line waits for its end. While the consumer is behind, the
//! reader stops reading, the pipe fills and the CLI blocks on its next write, so memory
//! stays bounded whatever the size of the update.
//!
//! The stream ends after the `cancelEvent` (by default, see [`StreamEnd`]), or once the
//! caller reports the process's exit ([`EventLog::process_exited`]): the reader then
//! takes what is left in the pipe without waiting, and reports a half-written last line
//! (a crash mid-write) as [`EventReadError::Truncated`].

use std::fmt;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nix::errno::Errno;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use pulumi_auto_types::events::{EngineEvent, EventParseError, parse_event_line, snippet};

/// The default longest event line accepted (a resource with huge outputs): 64 MiB. A
/// longer line is reported as [`EventReadError::LineTooLong`] and skipped.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// The name of the pipe [`EventLog::create`] makes in its directory.
pub const FIFO_NAME: &str = "events.fifo";

/// The default bound of the channel between the reader and the [`EventStream`].
const DEFAULT_CAPACITY: usize = 256;

/// How much is read from the pipe at once.
const CHUNK: usize = 64 * 1024;

/// What the event log yields: an event, or a line that could not be read as one.
pub type EventItem = Result<EngineEvent, EventReadError>;

/// Something in the event log that could not be turned into an event. The stream goes on
/// after it (except after [`Io`](EventReadError::Io)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EventReadError {
    /// A complete line that is not an engine event.
    #[error(transparent)]
    Parse(#[from] EventParseError),
    /// A line longer than the limit, skipped.
    #[error("an event line longer than {limit} bytes was skipped")]
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The writer stopped in the middle of a line (it crashed or was killed).
    #[error("the event log ends in a half-written line: {snippet:?}")]
    Truncated {
        /// The start of the partial line (at most 200 characters).
        snippet: String,
    },
    /// Reading the pipe or the file failed. The stream ends after it.
    #[error("reading the event log failed: {0}")]
    Io(#[source] Arc<io::Error>),
}

impl From<io::Error> for EventReadError {
    fn from(e: io::Error) -> Self {
        EventReadError::Io(Arc::new(e))
    }
}

/// When an [`EventStream`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StreamEnd {
    /// Right after the first `cancelEvent` (the end of an engine run), or at the
    /// process's exit if none comes. Right for commands that run the engine once, such
    /// as `up --skip-preview`, `preview`, `refresh --skip-preview`, `destroy
    /// --skip-preview`.
    #[default]
    AfterCancel,
    /// Only at the process's exit: for commands that run the engine more than once (e.g.
    /// `up` without `--skip-preview`: a preview, then the update, each from sequence 0
    /// and ending with its own `cancelEvent`).
    AtProcessExit,
}

/// Settings for [`EventLog::create_with`].
///
/// ```
/// use pulumi_auto::events::{EventLogOptions, StreamEnd};
/// let options = EventLogOptions::default().end(StreamEnd::AtProcessExit).capacity(64);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EventLogOptions {
    end: StreamEnd,
    capacity: usize,
    max_line: usize,
}

impl Default for EventLogOptions {
    fn default() -> Self {
        EventLogOptions {
            end: StreamEnd::AfterCancel,
            capacity: DEFAULT_CAPACITY,
            max_line: MAX_LINE,
        }
    }
}

impl EventLogOptions {
    /// When the stream ends (default: [`StreamEnd::AfterCancel`]).
    pub fn end(mut self, end: StreamEnd) -> Self {
        self.end = end;
        self
    }

    /// How many items may wait for the consumer (default 256, at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The longest line accepted, in bytes (default [`MAX_LINE`], at least 1).
    pub fn max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.max(1);
        self
    }
}

/// The live events of one CLI process, in order, as a [`Stream`](futures_core::Stream).
///
/// Ends as chosen by [`StreamEnd`], when the [`EventLog`] is dropped, or after an
/// [`EventReadError::Io`].
pub struct EventStream {
    rx: mpsc::Receiver<EventItem>,
}

impl EventStream {
    /// The next item, or `None` at the end: the same as `StreamExt::next`.
    pub async fn recv(&mut self) -> Option<EventItem> {
        self.rx.recv().await
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl futures_core::Stream for EventStream {
    type Item = EventItem;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        self.rx.poll_recv(cx)
    }
}

/// The pipe the CLI writes to, and the task reading it.
///
/// Pass [`path`](Self::path) as `--event-log`, run the CLI, and call
/// [`process_exited`](Self::process_exited) once it has exited. Dropping the `EventLog`
/// stops the reader (ending the stream) and removes the pipe. Dropping only the
/// [`EventStream`] stops delivery, but the pipe is still read, so the CLI never blocks.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use futures_util::StreamExt;
/// use pulumi_auto::events::EventLog;
/// let dir = tempfile::tempdir()?;
/// let (log, mut events) = EventLog::create(dir.path())?;
/// let mut child = tokio::process::Command::new("pulumi")
///     .args(["up", "--yes", "--skip-preview", "--event-log"])
///     .arg(log.path())
///     .spawn()?;
/// let printer = async {
///     while let Some(item) = events.next().await {
///         match item {
///             Ok(ev) => println!("{ev}"),
///             Err(e) => eprintln!("{e}"),
///         }
///     }
/// };
/// let waiter = async {
///     let status = child.wait().await;
///     log.process_exited();
///     status
/// };
/// let ((), status) = tokio::join!(printer, waiter);
/// status?;
/// # Ok(()) }
/// ```
pub struct EventLog {
    path: PathBuf,
    exited: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// Creates the pipe [`FIFO_NAME`] (mode 0600) in `dir`, which the caller owns (one
    /// per operation), and starts reading it with the default options.
    ///
    /// Fails if the pipe already exists, if the filesystem has no FIFOs, or when called
    /// outside a tokio runtime. The runtime needs its I/O driver (`enable_io`, part of
    /// `enable_all` and `#[tokio::main]`); without it tokio panics, as with its own pipes.
    pub fn create(dir: &Path) -> io::Result<(EventLog, EventStream)> {
        EventLog::create_with(dir, EventLogOptions::default())
    }

    /// Like [`create`](Self::create), with options.
    pub fn create_with(
        dir: &Path,
        options: EventLogOptions,
    ) -> io::Result<(EventLog, EventStream)> {
        use nix::fcntl::OFlag;
        use nix::sys::stat::Mode;
        use std::os::unix::fs::OpenOptionsExt;

        // Registering the pipe and spawning the reader need a runtime: say so, not panic.
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let path = dir.join(FIFO_NAME);
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)?;
        let opened = (|| {
            // Non-blocking read end: the open returns at once.
            let receiver = pipe::OpenOptions::new().open_receiver(&path)?;
            // Our own write end, held until the process exits: no EOF before the CLI
            // opens the pipe, nor between engine runs. It succeeds at once because a
            // reader exists. (Portable; Linux alone would allow one O_RDWR descriptor.)
            let keeper = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(OFlag::O_NONBLOCK.bits())
                .open(&path)?;
            io::Result::Ok((receiver, keeper))
        })();
        let (receiver, keeper) = match opened {
            Ok(pair) => pair,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let (tx, rx) = mpsc::channel(options.capacity);
        let exited = CancellationToken::new();
        let task = runtime.spawn(read_loop(
            receiver,
            keeper,
            Sink {
                tx: Some(tx),
                end: options.end,
            },
            LineSplitter::new(options.max_line),
            exited.clone(),
        ));
        Ok((EventLog { path, exited, task }, EventStream { rx }))
    }

    /// The path to give the CLI as `--event-log`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the reader the CLI has exited: it takes what is left in the pipe, reports a
    /// trailing partial line, and ends the stream. Idempotent.
    pub fn process_exited(&self) {
        self.exited.cancel();
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Cuts bytes into lines and parses the complete ones.
struct LineSplitter {
    buf: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
    max_line: usize,
}

impl LineSplitter {
    fn new(max_line: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            skipping: false,
            max_line,
        }
    }

    /// Feeds bytes; pushes an item for each complete line in them (blank lines skipped).
    fn feed(&mut self, data: &[u8], out: &mut Vec<EventItem>) {
        let mut rest = data;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..i];
            rest = &rest[i + 1..];
            if self.skipping {
                self.skipping = false;
                self.buf.clear();
                continue;
            }
            if self.buf.len() + line.len() > self.max_line {
                self.buf.clear();
                out.push(Err(EventReadError::LineTooLong {
                    limit: self.max_line,
                }));
                continue;
            }
            if self.buf.is_empty() {
                push_line(line, out);
            } else {
                self.buf.extend_from_slice(line);
                push_line(&self.buf, out);
                self.buf.clear();
            }
        }
        if self.skipping {
            return;
        }
        if self.buf.len() + rest.len() > self.max_line {
            self.buf = Vec::new();
            self.skipping = true;
            out.push(Err(EventReadError::LineTooLong {
                limit: self.max_line,
            }));
        } else {
            self.buf.extend_from_slice(rest);
        }
    }

    /// The end of the input: a partial line left over, if any.
    fn finish(&mut self) -> Option<EventReadError> {
        let partial = std::mem::take(&mut self.buf);
        let skipped = std::mem::replace(&mut self.skipping, false);
        if skipped || partial.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let head = &partial[..partial.len().min(4 * 200)];
        Some(EventReadError::Truncated {
            snippet: snippet(&String::from_utf8_lossy(head)),
        })
    }
}

fn push_line(line: &[u8], out: &mut Vec<EventItem>) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let text = String::from_utf8_lossy(line);
    out.push(parse_event_line(&text).map_err(EventReadError::from));
}

/// The delivering end: gone once the stream has ended or the consumer dropped it.
struct Sink {
    tx: Option<mpsc::Sender<EventItem>>,
    end: StreamEnd,
}

impl Sink {
    fn is_open(&self) -> bool {
        self.tx.is_some()
    }

    async fn deliver(&mut self, items: &mut Vec<EventItem>) {
        for item in items.drain(..) {
            let Some(tx) = &self.tx else { break };
            let last =
                self.end == StreamEnd::AfterCancel && matches!(&item, Ok(ev) if ev.is_cancel());
            if tx.send(item).await.is_err() || last {
                self.tx = None;
            }
        }
        items.clear();
    }
}

async fn read_loop(
    mut receiver: pipe::Receiver,
    keeper: std::fs::File,
    mut sink: Sink,
    mut split: LineSplitter,
    exited: CancellationToken,
) {
    let mut chunk = vec![0u8; CHUNK];
    let mut items = Vec::new();
    loop {
        tokio::select! {
            biased;
            r = receiver.read(&mut chunk) => match r {
                // Not while `keeper` is open.
                Ok(0) => break,
                Ok(n) => {
                    // Once the stream has ended the bytes are only drained, so that the
                    // CLI never blocks on a full pipe.
                    if sink.is_open() {
                        split.feed(&chunk[..n], &mut items);
                        sink.deliver(&mut items).await;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    sink.deliver(&mut vec![Err(e.into())]).await;
                    return;
                }
            },
            () = exited.cancelled() => break,
        }
    }
    // The writer is gone, so what it wrote is in the pipe. Read it with plain
    // non-blocking reads (not through the runtime's readiness, which may lag): "no more
    // data" is EAGAIN, or EOF now that our own write end is closed.
    drop(keeper);
    while sink.is_open() {
        match nix::unistd::read(&receiver, &mut chunk) {
            Ok(0) | Err(Errno::EAGAIN) => break,
            Ok(n) => {
                split.feed(&chunk[..n], &mut items);
                sink.deliver(&mut items).await;
            }
            Err(Errno::EINTR) => {}
            Err(e) => {
                items.push(Err(io::Error::from(e).into()));
                break;
            }
        }
    }
    if let Some(partial) = split.finish() {
        items.push(Err(partial));
    }
    sink.deliver(&mut items).await;
}

/// Parses a whole recorded event log (e.g. a file the CLI wrote), one result per
/// non-blank line, in order.
///
/// ```
/// use pulumi_auto::events::parse_event_log;
/// let text = "{\"sequence\":0,\"timestamp\":1,\"cancelEvent\":{}}\n\n{\"seq";
/// let items: Vec<_> = parse_event_log(text).collect();
/// assert!(items[0].as_ref().unwrap().is_cancel());
/// assert!(items[1].is_err());
/// ```
pub fn parse_event_log(text: &str) -> impl Iterator<Item = Result<EngineEvent, EventParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_event_line(l).map_err(|mut e| {
                e.reason = format!("line {}: {}", i + 1, e.reason);
                e
            })
        })
}

/// Reads a recorded event-log file. Every non-blank line must be an event; the first
/// that is not is the error (its reason names the line). Invalid UTF-8 is replaced.
pub fn read_event_log_file(path: impl AsRef<Path>) -> Result<Vec<EngineEvent>, EventReadError> {
    let bytes = std::fs::read(path.as_ref())?;
    let text = String::from_utf8_lossy(&bytes);
    parse_event_log(&text)
        .map(|r| r.map_err(EventReadError::from))
        .collect()
}

#[cfg(test)]
mod tests {
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
}
