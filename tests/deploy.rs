//! The deployment files (deploy/) against the code and each other: the
//! container image, the compose trial and the Kubernetes manifests use the
//! port, paths and user vigil's configuration and image really have, probe
//! the right endpoints, run unprivileged with resources requested, survive
//! voluntary disruptions one pod at a time, and get scraped. Configuration
//! files are validated by the built binary itself (`vigil check-config`).
//! No container engine or cluster is needed; `kubectl kustomize` renders
//! the manifests when kubectl is installed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn s(v: &Yaml) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

/// The effective configuration of `rel` with these `VIGIL_*` overrides, as
/// `vigil check-config --print` validates and prints it.
fn effective_config(rel: &str, env: &[(String, String)]) -> toml::Table {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["check-config", "--print", "--config"])
        .arg(repo().join(rel));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("VIGIL_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{rel} rejected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = stdout
        .strip_suffix("configuration ok\n")
        .expect("check-config ends with its verdict");
    toml::from_str(body).unwrap()
}

/// Where the HTTP endpoints listen, checked to be reachable from outside
/// the container (probes and Prometheus come from elsewhere).
fn listen(cfg: &toml::Table, what: &str) -> SocketAddr {
    let addr: SocketAddr = cfg["http"]["listen"].as_str().unwrap().parse().unwrap();
    assert!(
        addr.ip().is_unspecified(),
        "{what}: http.listen = {addr} is not reachable from outside the container; use 0.0.0.0"
    );
    addr
}

fn delivery_timeout(cfg: &toml::Table) -> Duration {
    humantime::parse_duration(cfg["pipeline"]["delivery_timeout"].as_str().unwrap()).unwrap()
}

/// One instruction of a Dockerfile, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The Dockerfile's stages, each a list of instructions starting with FROM.
fn dockerfile_stages() -> Vec<Vec<Instruction>> {
    let text = read("deploy/Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
        } else {
            current.push_str(t);
            logical.push(std::mem::take(&mut current));
        }
    }
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for l in logical.into_iter().filter(|l| !l.trim().is_empty()) {
        let (k, a) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
        let i = Instruction {
            keyword: k.to_ascii_uppercase(),
            args: a.trim().to_owned(),
        };
        if i.keyword == "FROM" {
            stages.push(vec![i]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(i);
        }
    }
    stages
}

fn args_of<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|i| i.keyword == keyword)
        .map(|i| i.args.as_str())
        .collect()
}

/// Packages named by `apt-get install` in a stage.
fn apt_packages(stage: &[Instruction]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for run in args_of(stage, "RUN") {
        for part in run.split("&&") {
            if let Some((_, rest)) = part.split_once("apt-get install") {
                out.extend(
                    rest.split_whitespace()
                        .filter(|w| !w.starts_with('-'))
                        .map(str::to_owned),
                );
            }
        }
    }
    out
}

fn json_array(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not an exec-form list: {args}: {e}"))
}

/// The image's configuration file: where CMD points, and its source.
fn image_config_path(runtime: &[Instruction]) -> String {
    let cmd = json_array(args_of(runtime, "CMD")[0]);
    let i = cmd
        .iter()
        .position(|a| a == "--config")
        .expect("CMD passes --config");
    cmd[i + 1].clone()
}

#[test]
fn dockerfile_builds_locked_and_runs_unprivileged_on_a_small_base() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage build");
    let (build, runtime) = (&stages[0], stages.last().unwrap());
    let build_name = build[0].args.rsplit(' ').next().unwrap().to_owned();
    assert!(build[0].args.contains(" AS "), "builder stage is named");

    let runs = args_of(build, "RUN").join(" ");
    assert!(runs.contains("cargo build --release --locked"), "{runs}");
    // librdkafka's build: a C toolchain, pkg-config, OpenSSL and zlib headers.
    let build_pkgs = apt_packages(build);
    for p in ["build-essential", "pkg-config", "libssl-dev", "zlib1g-dev"] {
        assert!(build_pkgs.contains(p), "builder lacks {p}");
    }
    // The builder's toolchain is at least the workspace's rust-version.
    let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let msrv = cargo["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let text = read("deploy/Dockerfile");
    let rust = text
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION before the first FROM");
    let v = |s: &str| -> (u32, u32) {
        let mut it = s.split('.').map(|n| n.parse::<u32>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    assert!(v(rust) >= v(msrv), "rust {rust} < rust-version {msrv}");

    let base = &runtime[0].args;
    assert!(
        base.contains("-slim") || base.contains("distroless"),
        "small runtime base: {base}"
    );
    let user = args_of(runtime, "USER");
    let uid: u32 = user
        .last()
        .expect("runtime stage sets USER")
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER, so runAsNonRoot can be verified");
    assert_ne!(uid, 0, "non-root");
    assert!(
        args_of(runtime, "COPY")
            .iter()
            .any(|c| c.starts_with(&format!("--from={build_name} "))
                && c.ends_with(" /usr/local/bin/vigil")),
        "binary copied from the builder"
    );
    assert_eq!(
        json_array(args_of(runtime, "ENTRYPOINT")[0]),
        ["/usr/local/bin/vigil"]
    );
    let config = image_config_path(runtime);
    let copied = args_of(runtime, "COPY")
        .into_iter()
        .find(|c| c.ends_with(&format!(" {config}")))
        .expect("the configuration CMD names is copied into the image");
    let src = copied.split_whitespace().next().unwrap();
    let cfg = effective_config(src, &[]);
    let port = listen(&cfg, src).port();
    assert_eq!(args_of(runtime, "EXPOSE"), [port.to_string()]);
}

#[test]
fn runtime_image_provides_every_shared_library_the_binary_needs() {
    let out = match Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        _ => {
            eprintln!("ldd not available: shared libraries not checked");
            return;
        }
    };
    let stages = dockerfile_stages();
    let installed = apt_packages(stages.last().unwrap());
    // What debian:*-slim already has.
    let base = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g"];
    let mut libs = Vec::new();
    for line in out.lines() {
        let lib = line.split_whitespace().next().unwrap_or_default();
        let name = lib.rsplit('/').next().unwrap();
        let package = match name {
            n if n.starts_with("linux-vdso") || n.starts_with("linux-gate") => continue,
            n if n.starts_with("ld-linux") => "libc6",
            "libc.so.6" | "libm.so.6" | "libpthread.so.0" | "libdl.so.2" | "librt.so.1" => "libc6",
            "libgcc_s.so.1" => "libgcc-s1",
            "libstdc++.so.6" => "libstdc++6",
            "libz.so.1" => "zlib1g",
            "libssl.so.3" | "libcrypto.so.3" => "libssl3",
            other => panic!(
                "the binary links {other}: add its Debian package to the runtime stage of deploy/Dockerfile and to this table"
            ),
        };
        assert!(
            base.contains(&package) || installed.contains(package),
            "{name} needs {package}, which the runtime stage does not install ({installed:?})"
        );
        libs.push(name.to_owned());
    }
    assert!(
        libs.iter().any(|l| l == "libssl.so.3"),
        "TLS linked: {libs:?}"
    );
}

#[test]
fn kafka_client_speaks_tls_sasl_and_zstd() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::producer::BaseProducer;
    // librdkafka refuses these settings at creation when built without
    // OpenSSL or zstd; nothing connects (the address is never dialled
    // before the clients are dropped).
    let consumer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("group.id", "g")
        .set("security.protocol", "SASL_SSL")
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", "u")
        .set("sasl.password", "p")
        .create::<BaseConsumer>();
    assert!(consumer.is_ok(), "{:?}", consumer.err());
    let producer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("security.protocol", "SSL")
        .set("compression.type", "zstd")
        .create::<BaseProducer>();
    assert!(producer.is_ok(), "{:?}", producer.err());
}

fn env_of(service: &Yaml) -> Vec<(String, String)> {
    service["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml_ng::to_string(other).unwrap().trim().to_owned(),
                    };
                    (s(k).to_owned(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Bind mounts `src:dst[:mode]` of a compose service, sources resolved
/// from deploy/ and checked to exist.
fn mounts(service: &Yaml) -> Vec<(PathBuf, String)> {
    service["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|v| {
            let mut parts = s(v).split(':');
            let (src, dst) = (parts.next().unwrap(), parts.next().unwrap());
            let path = repo().join("deploy").join(src);
            assert!(path.exists(), "compose mounts {src}, which does not exist");
            (path.canonicalize().unwrap(), dst.to_owned())
        })
        .collect()
}

#[test]
fn compose_runs_kafka_vigil_and_prometheus_wired_together() {
    let c = yaml("deploy/docker-compose.yml");
    let svc = &c["services"];
    for name in ["kafka", "vigil", "prometheus", "grafana"] {
        assert!(svc[name].is_mapping(), "service {name}");
    }
    let vigil = &svc["vigil"];
    let context = repo().join("deploy").join(s(&vigil["build"]["context"]));
    assert_eq!(
        context.canonicalize().unwrap(),
        repo(),
        "built from the workspace"
    );
    assert!(context.join(s(&vigil["build"]["dockerfile"])).is_file());

    // The image's configuration with the compose overrides, as vigil reads it.
    let env = env_of(vigil);
    let stages = dockerfile_stages();
    let config_in_image = image_config_path(stages.last().unwrap());
    assert!(config_in_image.starts_with('/'));
    let cfg = effective_config("deploy/vigil.toml", &env);
    let port = listen(&cfg, "compose").port();
    assert!(
        vigil["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| s(p).ends_with(&format!(":{port}"))),
        "compose publishes the metrics port {port}"
    );
    // vigil reaches the broker on the listener Kafka advertises in the network.
    let bootstrap = cfg["kafka"]["bootstrap_servers"].as_str().unwrap();
    let advertised = env_of(&svc["kafka"])
        .into_iter()
        .find(|(k, _)| k == "KAFKA_ADVERTISED_LISTENERS")
        .unwrap()
        .1;
    assert!(
        advertised
            .split(',')
            .any(|l| l.ends_with(&format!("://{bootstrap}"))),
        "{bootstrap} not in {advertised}"
    );
    // The input topic exists before vigil starts.
    let input = cfg["topics"]["inputs"][0]["name"].as_str().unwrap();
    let create = serde_yaml_ng::to_string(&svc["topics"]["command"]).unwrap();
    assert!(create.contains(&format!("--topic {input} ")), "{create}");
    assert_eq!(
        vigil["depends_on"]["topics"]["condition"],
        "service_completed_successfully"
    );
    // A graceful stop has time to wait for acknowledgements.
    let grace = humantime::parse_duration(s(&vigil["stop_grace_period"])).unwrap();
    assert!(grace > delivery_timeout(&cfg));

    // Prometheus scrapes vigil under the job name the rules select, and
    // loads the rules.
    let prom_dir = mounts(&svc["prometheus"])
        .into_iter()
        .find(|(_, dst)| dst == "/etc/prometheus")
        .expect("deploy/prometheus mounted at /etc/prometheus")
        .0;
    let prom: Yaml =
        serde_yaml_ng::from_str(&std::fs::read_to_string(prom_dir.join("prometheus.yml")).unwrap())
            .unwrap();
    let job = prom["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "vigil")
        .expect("a scrape job named vigil");
    assert_eq!(
        job["static_configs"][0]["targets"][0],
        format!("vigil:{port}").as_str()
    );
    for rules in prom["rule_files"].as_sequence().unwrap() {
        assert!(prom_dir.join(s(rules)).is_file(), "{rules:?}");
    }
    assert!(read("deploy/prometheus/alerts.yml").contains(r#"job="vigil""#));
    // Grafana gets the data source and the dashboard.
    let graf = mounts(&svc["grafana"]);
    assert!(
        graf.iter()
            .any(|(src, _)| src.ends_with("grafana/vigil-dashboard.json"))
    );
    assert!(
        graf.iter()
            .any(|(_, dst)| dst == "/etc/grafana/provisioning")
    );
    mounts(&svc["seed"]);
}

/// A Kubernetes quantity in base units (bytes, cores).
fn quantity(q: &Yaml) -> f64 {
    let q = match q {
        Yaml::Number(n) => return n.as_f64().unwrap(),
        other => s(other),
    };
    let units = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("m", 1e-3),
    ];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap() * factor;
        }
    }
    q.parse().unwrap()
}

fn subset(labels: &Yaml, of: &Yaml) -> bool {
    labels
        .as_mapping()
        .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| of.get(k) == Some(v)))
}

#[test]
fn kubernetes_manifests_probe_scrape_and_protect_vigil() {
    let k = yaml("deploy/k8s/kustomization.yaml");
    let mut by_kind = std::collections::BTreeMap::new();
    for r in k["resources"].as_sequence().unwrap() {
        let doc = yaml(&format!("deploy/k8s/{}", s(r)));
        by_kind.insert(s(&doc["kind"]).to_owned(), doc);
    }
    for kind in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PodDisruptionBudget",
        "PrometheusRule",
    ] {
        assert!(by_kind.contains_key(kind), "{kind}");
    }
    let generator = &k["configMapGenerator"][0];
    let config_file = s(&generator["files"][0]);
    let cfg = effective_config(&format!("deploy/k8s/{config_file}"), &[]);
    let port = listen(&cfg, "deploy/k8s").port();

    let d = &by_kind["Deployment"];
    let pod = &d["spec"]["template"];
    let pod_labels = &pod["metadata"]["labels"];
    assert!(subset(&d["spec"]["selector"]["matchLabels"], pod_labels));
    assert!(
        d["spec"]["replicas"].as_u64().unwrap() >= 2,
        "more than one instance"
    );
    let spec = &pod["spec"];
    let c = &spec["containers"][0];

    // The configuration: the generated ConfigMap, where the args point.
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    assert_eq!(&args[..2], ["run", "--config"]);
    let (dir, file) = args[2].rsplit_once('/').unwrap();
    assert_eq!(file, config_file);
    let mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .expect("configuration directory mounted");
    let volume = spec["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], generator["name"]);
    assert_eq!(c["image"], k["images"][0]["name"]);

    // Probes on the port vigil listens on.
    let named = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["containerPort"].as_u64() == Some(port as u64))
        .unwrap_or_else(|| panic!("container port {port}"));
    let port_name = s(&named["name"]);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == port_name || get["port"].as_u64() == Some(port as u64),
            "{probe} port"
        );
    }
    // Unprivileged, as the image's user.
    let psc = &spec["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    let stages = dockerfile_stages();
    let image_uid = args_of(stages.last().unwrap(), "USER")[0]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(psc["runAsUser"].as_u64().unwrap().to_string(), image_uid);
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["capabilities"]["drop"][0], "ALL");
    // Resources requested; the memory limit leaves room above the request.
    let res = &c["resources"];
    assert!(quantity(&res["requests"]["cpu"]) > 0.0);
    let request = quantity(&res["requests"]["memory"]);
    assert!(request >= 256.0 * 1024.0 * 1024.0);
    assert!(quantity(&res["limits"]["memory"]) >= request);
    // A graceful stop has time to wait for acknowledgements.
    let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(Duration::from_secs(grace) > delivery_timeout(&cfg));

    // One pod at a time on voluntary disruptions.
    let pdb = &by_kind["PodDisruptionBudget"];
    assert!(subset(&pdb["spec"]["selector"]["matchLabels"], pod_labels));
    assert!(pdb["spec"]["maxUnavailable"] == 1 || pdb["spec"]["minAvailable"].is_number());

    // Scraped: Service -> pods' port, ServiceMonitor -> Service's port, and
    // the job label (the Service's name) is the one the rules select.
    let svc = &by_kind["Service"];
    assert!(subset(&svc["spec"]["selector"], pod_labels));
    let sp = svc["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["targetPort"] == port_name || p["targetPort"].as_u64() == Some(port as u64))
        .expect("Service port targets the metrics port");
    let sm = &by_kind["ServiceMonitor"];
    assert!(subset(
        &sm["spec"]["selector"]["matchLabels"],
        &svc["metadata"]["labels"]
    ));
    let ep = &sm["spec"]["endpoints"][0];
    assert_eq!(ep["port"], sp["name"]);
    assert_eq!(ep["path"], "/metrics");
    assert_eq!(svc["metadata"]["name"], "vigil");

    // kustomize renders it all (when kubectl is at hand): the Deployment
    // refers to the ConfigMap under its content-hashed name.
    match Command::new("kubectl")
        .args(["kustomize"])
        .arg(repo().join("deploy/k8s"))
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let docs: Vec<Yaml> =
                serde_yaml_ng::Deserializer::from_str(std::str::from_utf8(&out.stdout).unwrap())
                    .map(|d| serde::Deserialize::deserialize(d).unwrap())
                    .collect();
            let cm = docs
                .iter()
                .find(|d| d["kind"] == "ConfigMap")
                .expect("generated ConfigMap");
            let name = s(&cm["metadata"]["name"]);
            assert!(
                name.starts_with(&format!("{}-", s(&generator["name"]))),
                "{name}"
            );
            assert!(cm["data"][config_file].is_string());
            let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
            let vols = &dep["spec"]["template"]["spec"]["volumes"];
            assert!(
                vols.as_sequence()
                    .unwrap()
                    .iter()
                    .any(|v| v["configMap"]["name"] == name),
                "Deployment mounts {name}"
            );
            assert_eq!(docs.len(), by_kind.len() + 1);
        }
        Err(_) => eprintln!("kubectl not installed: manifests not rendered with kustomize"),
    }
}
