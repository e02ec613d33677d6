//! The command line: `serve` (default), `migrate`, `reindex`, `seed demo`, `seed synthetic`,
//! `admin create`, `stamps`, `media sweep`, `bench`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::{AppState, accounts, seed};

#[derive(Debug, Parser)]
#[command(
    name = "ocop-market",
    version,
    about = "OCOP Market: a marketplace with QR origin stamps for Vietnam's OCOP cooperatives"
)]
struct Cli {
    /// Folder for the SQLite database and other local data.
    #[arg(long, global = true, env = "OCOP_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the marketplace (the default command).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Rebuild the search index from the database and swap it in atomically. A running server
    /// keeps answering from the old index meanwhile and switches over within a second, with
    /// the changes made during the rebuild replayed.
    Reindex,
    /// Fill the database with data.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Stamp tools for inspectors.
    #[command(subcommand)]
    Stamps(StampsCommand),
    /// Measurements used by the benchmark scripts.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Photo storage upkeep.
    #[command(subcommand)]
    Media(MediaCommand),
    /// Write a consistent copy of the SQLite database to FILE while the server keeps serving
    /// (SQLite's `VACUUM INTO`: one read transaction, so the copy is of one moment). For
    /// PostgreSQL use `pg_dump` (see the deployment notes).
    Backup {
        /// The copy to write; it must not exist yet.
        #[arg(value_name = "FILE")]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum MediaCommand {
    /// Remove photo files that no product or batch names any more (left by a crash between
    /// storing files and saving their row). Safe while the server runs.
    Sweep {
        /// Leave files younger than this alone (an upload may be finishing).
        #[arg(long, default_value_t = 60)]
        grace_minutes: i64,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Issue stamps on a new batch, render a label sheet, write scan paths for a load test.
    Stamps {
        #[arg(long, default_value_t = 100_000)]
        issue: u32,
        #[arg(long, default_value_t = 10_000)]
        labels: usize,
        #[arg(long, default_value_t = 10_000)]
        paths: usize,
        #[arg(long, value_name = "FILE")]
        paths_file: std::path::PathBuf,
    },
    /// Count recorded scans (after a load test).
    CountScans,
    /// Time the processing of a phone photo (decode, orient, resize, re-encode) in-process.
    Photos {
        /// Size of the generated test photo in megapixels (4:3).
        #[arg(long, default_value_t = 12)]
        megapixels: u32,
        /// Uploads to process.
        #[arg(long, default_value_t = 15)]
        runs: usize,
    },
    /// Record a year of activity on a seeded catalogue in bulk: batches and stamps, scans,
    /// paid orders and fake reports (for the dashboard benchmark).
    SeedActivity {
        #[arg(long, default_value_t = 1_000_000)]
        scans: u32,
        #[arg(long, default_value_t = 2_000)]
        batches: u32,
        #[arg(long, default_value_t = 100)]
        stamps_per_batch: u32,
        #[arg(long, default_value_t = 20_000)]
        orders: u32,
        #[arg(long, default_value_t = 2_000)]
        fake_reports: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Time the province dashboard's computation in process, without its cache.
    Dashboard {
        #[arg(long, default_value_t = 10)]
        rounds: u32,
        /// Province code for the filtered figures.
        #[arg(long, default_value = "15")]
        province: String,
    },
}

#[derive(Debug, Subcommand)]
enum StampsCommand {
    /// Check a scanned signed-stamp URL offline, with only the published public keys: no
    /// database, no network. Exits 0 when genuine, 1 otherwise.
    Verify {
        /// The URL read from the QR code.
        url: String,
        /// The public keys, as served at /.well-known/ocop-stamp-keys.json.
        #[arg(long, value_name = "FILE")]
        keys: std::path::PathBuf,
    },
    /// Print this deployment's public keys (the well-known document) for offline use.
    Keys,
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OCOP_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Seed the demo catalogue first if the database is empty.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// The demo catalogue (Lào Cai and Sơn La cooperatives) and demo accounts, whose passwords
    /// are printed once.
    Demo,
    /// A deterministic large catalogue across all provinces, for benchmarks.
    Synthetic {
        /// Number of products.
        #[arg(long, default_value_t = 100_000)]
        products: u32,
        /// Random seed; the same seed gives the same catalogue.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (or promote an existing account). The password is read from
    /// standard input or `OCOP_ADMIN_PASSWORD` and is never printed.
    Create {
        /// E-mail address or Vietnamese mobile number.
        #[arg(long)]
        identifier: String,
        /// Name shown in the interface.
        #[arg(long, default_value = "Quản trị viên")]
        name: String,
    },
}

/// Runs the command line and maps failures to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard output: text (colours only on a terminal, so that files stay greppable),
/// or one JSON object per line for log shippers.
fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("OCOP_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init()
    };
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    // Offline verification must work on an inspector's laptop with nothing but the key file.
    if let Command::Stamps(StampsCommand::Verify { url, keys }) = &command {
        init_tracing(false);
        return verify_stamp(url, keys);
    }
    let listen = match &command {
        Command::Serve(args) => args.listen,
        _ => None,
    };
    let config = Config::load(Overrides {
        listen,
        data_dir: cli.data_dir,
    })?;
    init_tracing(config.log_json);
    match command {
        Command::Serve(args) => serve(config, args.demo).await,
        Command::Migrate => {
            let db = crate::db::connect(&config).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Reindex => reindex(config).await,
        Command::Backup { to } => {
            let db = crate::db::connect(&config).await?;
            let started = std::time::Instant::now();
            let bytes = crate::db::backup_sqlite(&db, &to).await?;
            println!(
                "wrote {} ({:.1} MB) in {:.1} s",
                to.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Seed(SeedCommand::Demo) => {
            let state = AppState::build_offline(config).await?;
            seed_demo(&state).await
        }
        Command::Seed(SeedCommand::Synthetic { products, seed }) => {
            let state = AppState::build_offline(config).await?;
            let started = std::time::Instant::now();
            let summary = seed::synthetic(&state.db, &state.reference, products, seed).await?;
            println!(
                "seeded {} cooperatives and {} products in {:.1} s",
                summary.cooperatives,
                summary.products,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Stamps(StampsCommand::Verify { .. }) => Ok(()),
        Command::Bench(BenchCommand::Stamps {
            issue,
            labels,
            paths,
            paths_file,
        }) => {
            let state = AppState::build_offline(config).await?;
            crate::bench::stamps(&state, issue, labels, paths, &paths_file).await
        }
        Command::Bench(BenchCommand::Photos { megapixels, runs }) => {
            crate::media::bench::run(megapixels, runs)
        }
        Command::Media(MediaCommand::Sweep { grace_minutes }) => {
            let state = AppState::build_offline(config).await?;
            let report = crate::media::sweep(
                &state.db,
                state.photos.store(),
                chrono::Duration::minutes(grace_minutes.max(0)),
            )
            .await?;
            println!(
                "{} photo files, {} unreferenced removed",
                report.files, report.removed
            );
            Ok(())
        }
        Command::Bench(BenchCommand::CountScans) => {
            let state = AppState::build_offline(config).await?;
            crate::bench::count_scans(&state).await
        }
        Command::Bench(BenchCommand::SeedActivity {
            scans,
            batches,
            stamps_per_batch,
            orders,
            fake_reports,
            seed,
        }) => {
            let state = AppState::build_offline(config).await?;
            crate::bench::seed_activity(
                &state,
                crate::bench::ActivitySize {
                    batches,
                    stamps_per_batch,
                    scans,
                    orders,
                    fake_reports,
                    seed,
                },
            )
            .await
        }
        Command::Bench(BenchCommand::Dashboard { rounds, province }) => {
            let state = AppState::build_offline(config).await?;
            crate::bench::dashboard(&state, rounds, &province).await
        }
        Command::Stamps(StampsCommand::Keys) => {
            let state = AppState::build_offline(config).await?;
            let keys = crate::trace::signing::published_keys(
                &state.db,
                &state.signer,
                &state.config.public_url,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&keys)?);
            Ok(())
        }
        Command::Admin(AdminCommand::Create { identifier, name }) => {
            let password = match std::env::var("OCOP_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    let mut input = String::new();
                    std::io::stdin()
                        .read_to_string(&mut input)
                        .context("reading the password from standard input")?;
                    input.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let state = AppState::build_offline(config).await?;
            let user = accounts::create_admin(&state.db, &identifier, &password, &name)
                .await
                .map_err(|e| match e {
                    crate::error::AppError::Validation(fields) => anyhow::anyhow!(
                        "{}",
                        fields
                            .iter()
                            .map(|f| format!("{}: {}", f.field, f.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    other => anyhow::anyhow!("{other}"),
                })?;
            println!(
                "administrator {} is ready (account #{})",
                identifier, user.id
            );
            Ok(())
        }
    }
}

fn verify_stamp(url: &str, keys: &std::path::Path) -> anyhow::Result<()> {
    use crate::trace::signing::KeyRing;
    let json = std::fs::read_to_string(keys)
        .with_context(|| format!("cannot read the key file {}", keys.display()))?;
    let ring = KeyRing::from_json(&json)?;
    match ring.verify_url(url) {
        Ok(stamp) => {
            println!(
                "GENUINE: code {} · lot {} · serial {} · signed with key {}",
                stamp.code.as_str(),
                stamp.lot.as_str(),
                stamp.serial,
                stamp.key_id
            );
            Ok(())
        }
        Err(err) => {
            println!("NOT GENUINE: {err}");
            std::process::exit(1);
        }
    }
}

/// Draws a photo for every demo product that has none, through the real upload pipeline.
async fn add_demo_photos(state: &AppState) -> anyhow::Result<()> {
    let added = crate::demo_photos::add_missing(&state.db, &state.reference, &state.photos).await?;
    tracing::info!("drew {added} demo product photos");
    Ok(())
}

async fn seed_demo(state: &AppState) -> anyhow::Result<()> {
    match seed::demo(&state.db, &state.reference, &state.signer).await? {
        Some(report) => {
            println!("{report}");
            add_demo_photos(state).await
        }
        None => {
            println!("the database already has cooperatives; demo data not added");
            Ok(())
        }
    }
}

async fn reindex(config: Config) -> anyhow::Result<()> {
    let state = AppState::build_offline(config).await?;
    let started = std::time::Instant::now();
    match &state.config.meilisearch {
        Some(meili) => {
            let index = crate::search::meili::MeiliIndex::connect(meili).await?;
            let documents = index.rebuild(meili, &state.db, &state.reference).await?;
            println!(
                "rebuilt the Meilisearch index {} with {documents} documents in {:.1} s",
                meili.index,
                started.elapsed().as_secs_f64()
            );
        }
        None => {
            let store = crate::search::generations::GenerationStore::new(&state.config.data_dir)?;
            let report = store.rebuild(&state.db, &state.reference).await?;
            println!(
                "rebuilt the search index with {} documents in {:.1} s (generation {}, {} pending \
                 changes already covered)",
                report.pointer.documents,
                report.elapsed.as_secs_f64(),
                report.pointer.generation,
                report.covered_rows
            );
        }
    }
    Ok(())
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let listen = config.listen;
    let public_url = config.public_url.clone();
    tracing::info!(database = %config.database_url_for_logs(), "starting");
    let state = AppState::build(config).await?;
    if demo {
        if let Some(report) = seed::demo(&state.db, &state.reference, &state.signer).await? {
            println!("{report}");
            // Only for a catalogue seeded now: never on a database of real products. Drawn in
            // the background, so the marketplace answers at once and the photos appear as
            // they are made (a minute or two on a debug build).
            let drawing = state.clone();
            tokio::spawn(async move {
                if let Err(err) = add_demo_photos(&drawing).await {
                    tracing::warn!(error = %err, "demo photos not drawn");
                }
            });
        }
        if let Some(url) = seed::sample_stamp_url(&state.db, &public_url).await? {
            tracing::info!("scan a sample stamp: {url}");
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        "OCOP Market is ready at {public_url} (started in {} ms)",
        started.elapsed().as_millis()
    );
    crate::serve(listener, state, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
