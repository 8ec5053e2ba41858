//! `verimesh demo-app`: runs the demo app until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Args as ClapArgs;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use verimesh_demo_app::{Config, Role, Upstreams};

#[derive(ClapArgs)]
pub struct Args {
    /// Which service to play: httpbin, productpage, details, reviews, ratings or ext-authz. Every role
    /// also answers the httpbin endpoints (/get, /headers, /ip, /status/N, /delay/N, /anything).
    #[arg(long, default_value = "httpbin")]
    role: Role,
    /// The version named in every answer (bookinfo's reviews: v1 no stars, v2 black, v3 red).
    #[arg(long, default_value = "v1")]
    version: String,
    /// HTTP port (HTTP/1.1 and h2c).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// With --role ext-authz: also answer Envoy's gRPC ext_authz API (Authorization/Check)
    /// on this port, as Istio's sample does on 9000.
    #[arg(long)]
    grpc_port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    address: IpAddr,
    /// Also echo TCP on this port, each line prefixed (like Istio's tcp-echo sample); may
    /// repeat (the sample listens on 9000, 9001 and 9002).
    #[arg(long)]
    tcp_echo_port: Vec<u16>,
    /// The prefix of echoed lines.
    #[arg(long, default_value = "hello")]
    tcp_prefix: String,
    /// Where productpage finds details.
    #[arg(long, default_value = "details:9080")]
    details: String,
    /// Where productpage finds reviews.
    #[arg(long, default_value = "reviews:9080")]
    reviews: String,
    /// Where reviews finds ratings.
    #[arg(long, default_value = "ratings:9080")]
    ratings: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if args.grpc_port.is_some() && args.role != Role::ExtAuthz {
        anyhow::bail!("--grpc-port is for --role ext-authz");
    }
    rt.block_on(async move {
        let cfg = Config {
            role: args.role,
            version: args.version,
            http: SocketAddr::new(args.address, args.port),
            upstreams: Upstreams {
                details: args.details,
                reviews: args.reviews,
                ratings: args.ratings,
            },
        };
        let role = cfg.role.name();
        let http = verimesh_demo_app::serve(cfg).await?;
        eprintln!("demo-app ({role}) serving HTTP on {}", http.addr);
        let grpc = match args.grpc_port {
            Some(p) => {
                let g = verimesh_demo_app::serve_ext_authz_grpc(SocketAddr::new(args.address, p))
                    .await?;
                eprintln!("demo-app ({role}) serving gRPC ext_authz on {}", g.addr);
                Some(g)
            }
            None => None,
        };
        for p in args.tcp_echo_port {
            let (addr, _task) = verimesh_demo_app::serve_tcp_echo(
                SocketAddr::new(args.address, p),
                args.tcp_prefix.clone(),
            )
            .await?;
            eprintln!("demo-app echoing TCP on {addr}");
        }
        shutdown_signal().await;
        http.task.abort();
        if let Some(g) = grpc {
            g.task.abort();
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
