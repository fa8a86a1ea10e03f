//! `strata`: an S3 gateway that places sealed objects across storage backends by predicted heat.

mod admin;
mod admin_api;
mod checksums;
mod cli;
mod config;
mod cors;
mod credentials;
mod dashboard;
mod heap;
mod ingest;
mod object_filter;
mod read;
mod request_metrics;
mod s3;
mod server;
mod sig_v2;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "An S3 gateway that seals every byte and places objects across tiers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. With no flags: S3 on 127.0.0.1:9000, admin on 127.0.0.1:9001, data in ./strata-data.
    Serve {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (catalog, keys, credentials, local backends).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// S3 listen address.
        #[arg(long)]
        s3_addr: Option<SocketAddr>,
        /// Admin API listen address.
        #[arg(long)]
        admin_addr: Option<SocketAddr>,
        /// Shared catalog of a cluster, postgres://USER[:PASSWORD]@HOST:PORT/DB (default: the embedded
        /// catalog in the data directory).
        #[arg(long, env = "STRATA_CATALOG_URL", hide_env_values = true)]
        catalog_url: Option<String>,
    },
    /// Summary of a running gateway: health, counts, backends.
    Status {
        #[command(flatten)]
        admin: cli::AdminOpts,
    },
    /// Objects of a running gateway, with placement and heat.
    Objects {
        #[command(flatten)]
        admin: cli::AdminOpts,
        #[command(subcommand)]
        cmd: cli::ObjectsCmd,
    },
    /// Move tasks of a running gateway (history and in flight).
    Moves {
        #[command(flatten)]
        admin: cli::AdminOpts,
        /// Only tasks not yet finished.
        #[arg(long)]
        active: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The placement plan of a running gateway: a dry run, or applied with --apply.
    Plan {
        #[command(flatten)]
        admin: cli::AdminOpts,
        /// Create the plan's move tasks (without it nothing changes).
        #[arg(long)]
        apply: bool,
        /// With --apply: wait until every created move has finished (progress bar on a terminal).
        #[arg(long, requires = "apply")]
        wait: bool,
    },
    /// Encryption keys of a running gateway's backends.
    Keys {
        #[command(flatten)]
        admin: cli::AdminOpts,
        #[command(subcommand)]
        cmd: cli::KeysCmd,
    },
    /// Scrub a running gateway now: check every replica, heal bad ones (progress bar on a terminal).
    Scrub {
        #[command(flatten)]
        admin: cli::AdminOpts,
        /// Only show the scrubber's counters and last run.
        #[arg(long)]
        status: bool,
    },
    /// The buckets' lifecycle passes of a running gateway: what they did; `--run` runs one now.
    Lifecycle {
        #[command(flatten)]
        admin: cli::AdminOpts,
        /// Run one pass over every bucket's lifecycle rules now and show what it did.
        #[arg(long)]
        run: bool,
    },
    /// The p_hot model of a running gateway: which one is in use, and its validation against the rule.
    Model {
        #[command(flatten)]
        admin: cli::AdminOpts,
        /// Train the forest on the access log now, then show the result.
        #[arg(long)]
        retrain: bool,
    },
    /// Several gateway nodes on one shared catalog: their status, and the catalog's schema.
    Cluster {
        #[command(subcommand)]
        cmd: cli::ClusterCmd,
    },
    /// S3 users of a running gateway: list them, create and remove users managed through the admin API.
    Users {
        #[command(flatten)]
        admin: cli::AdminOpts,
        #[command(subcommand)]
        cmd: cli::UsersCmd,
    },
    /// Fault injection rules of a running gateway.
    Chaos {
        #[command(flatten)]
        admin: cli::AdminOpts,
        #[command(subcommand)]
        cmd: cli::ChaosCmd,
    },
}

fn main() -> ExitCode {
    heap::tune();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs sent to a file or a pipe carry no escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Status { admin } => run(cli::status(&admin)),
        Command::Objects { admin, cmd } => run(cli::objects(&admin, cmd)),
        Command::Chaos { admin, cmd } => run(cli::chaos(&admin, cmd)),
        Command::Users { admin, cmd } => run(cli::users(&admin, cmd)),
        Command::Cluster { cmd } => run(cli::cluster(cmd)),
        Command::Moves {
            admin,
            active,
            limit,
        } => run(cli::moves(&admin, active, limit)),
        Command::Keys { admin, cmd } => run(cli::keys(&admin, cmd)),
        Command::Plan { admin, apply, wait } => run(cli::plan(&admin, apply, wait)),
        Command::Scrub { admin, status } => run(cli::scrub(&admin, status)),
        Command::Lifecycle { admin, run: now } => run(cli::lifecycle(&admin, now)),
        Command::Model { admin, retrain } => run(cli::model(&admin, retrain)),
        Command::Serve {
            config,
            data_dir,
            s3_addr,
            admin_addr,
            catalog_url,
        } => {
            let loaded = match config {
                Some(path) => config::Config::from_file(&path),
                None => Ok(config::Config::default()),
            };
            match loaded {
                Ok(mut c) => {
                    if let Some(d) = data_dir {
                        c.data_dir = d;
                    }
                    if let Some(a) = s3_addr {
                        c.s3_addr = a;
                    }
                    if let Some(a) = admin_addr {
                        c.admin_addr = a;
                    }
                    if let Some(url) = catalog_url.filter(|u| !u.is_empty()) {
                        c.catalog_url = Some(url);
                    }
                    run(server::serve(c))
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
