//! The player lookup API over a real socket, with a directory of fixed
//! players: status codes, authentication, validation and list order.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use tokio_util::sync::CancellationToken;
use vigil_domain::Band;
use vigil_http::{Api, PlayerDirectory, PlayerInfo, WindowFigures};

fn info(id: &str, brand: &str, score: f64, band: &'static str) -> PlayerInfo {
    let figures = WindowFigures {
        days: 7.0,
        active_days: 0.0,
        visits: 0.0,
        bets: 0.0,
        stake: 0.0,
        currency: "EUR".into(),
    };
    PlayerInfo {
        player_id: id.into(),
        brand: brand.into(),
        score,
        band,
        baseline_ready: true,
        priority: 100.0 - score,
        value: 0.0,
        tier: "regular",
        manager_id: None,
        segments: Vec::new(),
        as_of: "2026-11-01T00:00:00Z".into(),
        reasons: Vec::new(),
        recent: figures.clone(),
        previous: figures,
        last_activity: None,
        typical_gap_days: None,
    }
}

/// Players in no particular order; `riskiest` returns them all, unsorted
/// and unlimited, so the router's own ordering and limit are what is seen.
struct Fixed(Vec<PlayerInfo>);

impl PlayerDirectory for Fixed {
    fn player(&self, id: &str, brand: Option<&str>) -> Vec<PlayerInfo> {
        self.0
            .iter()
            .filter(|p| p.player_id == id && brand.is_none_or(|b| p.brand == b))
            .cloned()
            .collect()
    }
    fn riskiest(&self, _band: Option<Band>, _limit: usize) -> Vec<PlayerInfo> {
        self.0.clone()
    }
}

fn players() -> Vec<PlayerInfo> {
    vec![
        info("p3", "casino-a", 30.0, "red"),
        info("p1", "casino-a", 80.0, "green"),
        info("p2", "casino-a", 30.0, "red"),
        info("p1", "sports-b", 55.0, "yellow"),
        info("p4", "casino-a", 10.0, "red"),
    ]
}

struct Server {
    base: String,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(api: Option<Api>) -> Server {
    let handle = PrometheusBuilder::new().build_recorder().handle();
    let stop = CancellationToken::new();
    let (addr, fut) = vigil_http::bind(
        "127.0.0.1:0".parse().unwrap(),
        handle,
        Arc::new(|| Ok(())),
        api,
        stop.clone(),
    )
    .await
    .unwrap();
    tokio::spawn(fut);
    Server {
        base: format!("http://{addr}"),
        stop,
    }
}

fn api(token: Option<&str>) -> Option<Api> {
    Some(Api {
        directory: Arc::new(Fixed(players())),
        auth_token: token.map(Arc::from),
    })
}

async fn get(s: &Server, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut r = reqwest::Client::new().get(format!("{}{path}", s.base));
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn ids(v: &serde_json::Value) -> Vec<(String, String)> {
    v["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["player_id"].as_str().unwrap().to_owned(),
                p["brand"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(id: &str, brand: &str) -> (String, String) {
    (id.to_owned(), brand.to_owned())
}

#[tokio::test]
async fn a_player_by_id_every_brand_or_one_and_404_for_strangers() {
    let s = serve(api(None)).await;
    let (status, body) = get(&s, "/v1/players/p1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [pair("p1", "casino-a"), pair("p1", "sports-b")]);
    assert_eq!(body["players"][0]["score"], 80.0);
    assert_eq!(body["players"][0]["band"], "green");
    assert_eq!(body["players"][0]["value"], 0.0);
    assert_eq!(body["players"][0]["tier"], "regular");

    let (status, body) = get(&s, "/v1/players/p1?brand=sports-b", None).await;
    assert_eq!((status, ids(&body)), (200, vec![pair("p1", "sports-b")]));

    let (status, body) = get(&s, "/v1/players/nobody", None).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no such player"));
    let (status, _) = get(&s, "/v1/players/p1?brand=lottery-c", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_list_is_riskiest_first_then_by_id_filtered_and_limited() {
    let s = serve(api(None)).await;
    let (status, body) = get(&s, "/v1/players", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ids(&body),
        [
            pair("p4", "casino-a"),
            pair("p2", "casino-a"),
            pair("p3", "casino-a"),
            pair("p1", "sports-b"),
            pair("p1", "casino-a"),
        ]
    );
    let (_, body) = get(&s, "/v1/players?band=red&limit=2", None).await;
    assert_eq!(ids(&body), [pair("p4", "casino-a"), pair("p2", "casino-a")]);
    let (_, body) = get(&s, "/v1/players?band=yellow", None).await;
    assert_eq!(ids(&body), [pair("p1", "sports-b")]);
}

#[tokio::test]
async fn bad_list_parameters_are_400_with_the_reason() {
    let s = serve(api(None)).await;
    for (query, says) in [
        ("band=purple", "unknown band"),
        ("limit=0", "limit"),
        ("limit=1001", "1000"),
        ("limit=ten", "limit"),
    ] {
        let (status, body) = get(&s, &format!("/v1/players?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    let (status, _) = get(&s, "/v1/players?limit=1000", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_guards_the_api_and_nothing_else() {
    let s = serve(api(Some("s3cret"))).await;
    for path in ["/v1/players", "/v1/players/p1"] {
        assert_eq!(get(&s, path, None).await.0, 401, "{path}");
        assert_eq!(get(&s, path, Some("wrong")).await.0, 401, "{path}");
        assert_eq!(get(&s, path, Some("s3cre")).await.0, 401, "{path}");
        assert_eq!(get(&s, path, Some("s3cret")).await.0, 200, "{path}");
    }
    // Probes and scrapes carry no token.
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(get(&s, path, None).await.0, 200, "{path}");
    }
}

#[tokio::test]
async fn read_only_and_absent_without_a_directory() {
    let s = serve(api(None)).await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/players/p1", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = reqwest::Client::new()
        .delete(format!("{}/v1/players", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);

    let bare = serve(None).await;
    assert_eq!(get(&bare, "/v1/players", None).await.0, 404);
    assert_eq!(get(&bare, "/healthz", None).await.0, 200);
}
