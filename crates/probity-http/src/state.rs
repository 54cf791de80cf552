//! What the server holds: the ledger of a data directory and its views, kept up to date.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use probity_ledger::{datadir, Ledger};
use probity_projector::Projection;
use probity_views::embedded;
use probity_views::{ProjectError, Projector};
use probity_wire::{ErrorCode, WireError};
use time::UtcOffset;

use crate::auth::Tokens;
use crate::metrics::Metrics;
use crate::upstream::Upstream;

/// How the server is set up.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The hospital's offset from UTC: the console shows times in it.
    pub offset: UtcOffset,
    /// The tokens it accepts; `None` serves everyone as the local operator (loopback only).
    pub tokens: Option<Tokens>,
}

/// Why the data directory could not be served.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] datadir::OpenError),
    /// The views could not be opened or brought up to date.
    #[error("views: {0}")]
    Views(#[from] ProjectError),
}

/// The server's state.
#[derive(Debug)]
pub struct App {
    pub(crate) ledger: Ledger,
    views: RwLock<Projector>,
    /// Serialises catching up, so two readers that find the views behind do it once.
    catching_up: Mutex<()>,
    pub(crate) config: AppConfig,
    pub(crate) metrics: Metrics,
    data: PathBuf,
    /// ledgerd, when this serves a copy of a running ledger (`probity serve --nats`): appends
    /// go to it, and `ledger` is the verified copy.
    pub(crate) upstream: Option<Upstream>,
}

impl App {
    /// Opens the data directory `data` (its book, then its views, brought up to date: every
    /// new record verified first).
    pub fn open(data: &Path, config: AppConfig) -> Result<App, OpenError> {
        App::open_reporting(data, config, &mut |_, _| {})
    }

    /// [`open`](Self::open), telling `progress` (records applied, the book's size) as the
    /// views are brought up to date.
    pub fn open_reporting(
        data: &Path,
        config: AppConfig,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<App, OpenError> {
        let ledger = datadir::open(data)?;
        App::serving(ledger, data, config, None, progress)
    }

    /// Serves the copy `ledger` a [`Follower`](crate::upstream::Follower) keeps of a running
    /// ledger in `dir` (its views in `dir/views`), handing appends to `upstream`.
    pub fn open_following(
        dir: &Path,
        ledger: Ledger,
        upstream: Upstream,
        config: AppConfig,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<App, OpenError> {
        App::serving(ledger, dir, config, Some(upstream), progress)
    }

    fn serving(
        ledger: Ledger,
        data: &Path,
        config: AppConfig,
        upstream: Option<Upstream>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<App, OpenError> {
        // Views up to date or a few records behind open partial: nothing but their cursor is
        // read now, then the rows the pages and answers ask for (kept once read).
        let views = embedded::open_current(&embedded::views_dir(data), &ledger, progress);
        let projector = match views {
            Ok(projector) => projector,
            Err(e) => {
                // Not served: still close the book cleanly (its next open need not recheck it).
                ledger.close();
                return Err(e.into());
            }
        };
        Ok(App {
            ledger,
            views: RwLock::new(projector),
            catching_up: Mutex::new(()),
            config,
            metrics: Metrics::default(),
            data: data.to_owned(),
            upstream,
        })
    }

    /// ledgerd, when serving a copy of a running ledger.
    pub fn upstream(&self) -> Option<&Upstream> {
        self.upstream.as_ref()
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Reads the views once they hold every record the book held when this was called (so a
    /// page shown after an append includes it). Blocking: call from a blocking task.
    ///
    /// Views opened partial may lack rows `read` asks for: it is then called again, after they
    /// are read in (under the write lock, as catching up is), until none is missing — so
    /// `read` must not do anything but read the projection.
    pub(crate) fn with_views<R>(
        &self,
        read: impl Fn(&Projection) -> Result<R, WireError>,
    ) -> Result<R, WireError> {
        let wanted = self.ledger.size();
        self.catch_up_to(wanted)?;
        {
            let views = self.views.read().map_err(|_| poisoned())?;
            let answer = read(views.projection());
            // Nothing asked for was missing (only a writer forgets what was): the answer is
            // the views'.
            if !views.projection().wants() {
                return answer;
            }
        }
        let mut views = self.views.write().map_err(|_| poisoned())?;
        views
            .settle(&read)
            .map_err(|e| WireError::new(ErrorCode::Storage, format!("views: {e}")))?
    }

    /// Reads the views' store (their history, for replays) and the book, once the views are up
    /// to date as in [`with_views`](Self::with_views).
    pub(crate) fn with_history<R>(
        &self,
        read: impl FnOnce(&probity_views::ViewStore, &probity_ledger::Book) -> Result<R, WireError>,
    ) -> Result<R, WireError> {
        self.catch_up_to(self.ledger.size())?;
        let views = self.views.read().map_err(|_| poisoned())?;
        read(views.store(), self.ledger.book())
    }

    /// Records applied to the views, and the book's size.
    pub(crate) fn progress(&self) -> (u64, u64) {
        let applied = self.views.read().map_or(0, |v| v.applied());
        (applied, self.ledger.size())
    }

    /// Applies what the book holds that the views lack (logged, not returned, if it fails:
    /// the next read reports it).
    pub(crate) fn refresh(&self) {
        if let Err(e) = self.catch_up_to(self.ledger.size()) {
            tracing::warn!(code = %e.code, message = %e.message, "views not brought up to date");
        }
    }

    fn catch_up_to(&self, wanted: u64) -> Result<(), WireError> {
        if self.views.read().map_err(|_| poisoned())?.applied() >= wanted {
            return Ok(());
        }
        let _one = self.catching_up.lock().map_err(|_| poisoned())?;
        let mut views = self.views.write().map_err(|_| poisoned())?;
        if views.applied() >= wanted {
            return Ok(());
        }
        embedded::catch_up(&mut views, &self.ledger).map_err(|e| match e {
            ProjectError::Halted(halt) => WireError::new(
                ErrorCode::Unavailable,
                format!(
                    "the views stopped at record {}: {}; run probity verify --data",
                    halt.seq, halt.reason
                ),
            ),
            other => WireError::new(ErrorCode::Storage, format!("views: {other}")),
        })?;
        Ok(())
    }

    /// Finishes appends, signs a last checkpoint, flushes.
    pub fn close(&self) {
        self.ledger.close();
    }
}

/// Invariant: a lock is poisoned only if a thread panicked holding it; the views it guarded
/// may be half-updated, so nothing more is answered from them.
fn poisoned() -> WireError {
    WireError::new(
        ErrorCode::Internal,
        "the views' lock is poisoned (a reader panicked); restart probity serve",
    )
}
