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

mod lines;
#[cfg(test)]
mod tests;

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

use pulumi_auto_types::events::{EngineEvent, EventParseError};

use lines::LineSplitter;
pub use lines::{parse_event_log, read_event_log_file};

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
