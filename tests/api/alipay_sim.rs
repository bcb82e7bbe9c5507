//! A local Alipay open-platform simulator: its own RSA2 key, the gateway's browser entry and API
//! methods with the app's signatures checked, responses signed over the exact response node, and
//! asynchronous notifications signed as Alipay signs them.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use kedian::pay::alipay::signing_string;
use kedian::pay::signing::{PrivateKey, PublicKey, private_key_from_pem, public_key_from_pem, sign, verify};
use rand::Rng;
use serde_json::{Value, json};

pub const APP_ID: &str = "2021000117600001";
pub const SELLER_ID: &str = "2088621955555555";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/alipay");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

#[derive(Clone, Debug)]
pub struct Trade {
    pub total_amount: String,
    pub method: String,
    pub product_code: String,
    pub notify_url: String,
    pub return_url: String,
    pub status: String,
    pub trade_no: Option<String>,
}

pub struct SimState {
    alipay_key: PrivateKey,
    app_public: PublicKey,
    pub trades: Mutex<HashMap<String, Trade>>,
    pub refunds: Mutex<HashMap<String, String>>,
}

pub struct AlipaySim {
    pub gateway_url: String,
    pub state: Arc<SimState>,
}

impl SimState {
    fn verified(&self, params: &BTreeMap<String, String>) -> bool {
        params.get("app_id").map(String::as_str) == Some(APP_ID)
            && params.get("sign_type").map(String::as_str) == Some("RSA2")
            && params.get("sign").is_some_and(|s| verify(&self.app_public, &signing_string(params, false), s))
    }

    /// `{"<method>_response":<node>,"sign":"..."}`, the signature over the node's exact text.
    fn reply(&self, method: &str, node: Value) -> HttpResponse {
        let node = node.to_string();
        let signature = sign(&self.alipay_key, &node);
        let key = format!("{}_response", method.replace('.', "_"));
        HttpResponse::Ok()
            .content_type("application/json")
            .body(format!("{{\"{key}\":{node},\"sign\":\"{signature}\"}}"))
    }

    /// Notification fields for a paid trade, signed with `key` (Alipay's unless forging).
    pub fn notification(
        &self,
        out_trade_no: &str,
        trade: &Trade,
        key: &PrivateKey,
        tweak: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = [
            ("notify_type", "trade_status_sync"),
            ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
            ("app_id", APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_status", "TRADE_SUCCESS"),
            ("seller_id", SELLER_ID),
            ("buyer_id", "2088102122524333"),
            ("gmt_create", "2026-11-21 19:29:57"),
            ("gmt_payment", "2026-11-21 19:30:04"),
            ("subject", "课程"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // The time of sending, in Beijing time, as every (re)send carries it.
        p.insert("notify_time".into(), kedian::domain::time::shanghai_seconds(kedian::domain::time::now()));
        p.insert("out_trade_no".into(), out_trade_no.into());
        p.insert("trade_no".into(), trade.trade_no.clone().unwrap_or_default());
        p.insert("total_amount".into(), trade.total_amount.clone());
        p.insert("receipt_amount".into(), trade.total_amount.clone());
        tweak(&mut p);
        let signature = sign(key, &signing_string(&p, true));
        p.insert("sign".into(), signature);
        p.insert("sign_type".into(), "RSA2".into());
        p
    }
}

/// The buyer's browser arriving at the gateway with the shop's signed request.
async fn cashier(req: HttpRequest, sim: web::Data<SimState>) -> HttpResponse {
    let params: BTreeMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if !sim.verified(&params) {
        return HttpResponse::BadRequest().body("invalid-signature");
    }
    let biz: Value =
        serde_json::from_str(params.get("biz_content").map(String::as_str).unwrap_or("{}")).unwrap_or_default();
    let no = biz["out_trade_no"].as_str().unwrap_or_default().to_string();
    sim.trades.lock().unwrap().entry(no).or_insert(Trade {
        total_amount: biz["total_amount"].as_str().unwrap_or_default().into(),
        method: params.get("method").cloned().unwrap_or_default(),
        product_code: biz["product_code"].as_str().unwrap_or_default().into(),
        notify_url: params.get("notify_url").cloned().unwrap_or_default(),
        return_url: params.get("return_url").cloned().unwrap_or_default(),
        status: "WAIT_BUYER_PAY".into(),
        trade_no: None,
    });
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body("<h1>支付宝收银台（模拟）</h1>")
}

async fn api(form: web::Form<BTreeMap<String, String>>, sim: web::Data<SimState>) -> HttpResponse {
    let params = form.into_inner();
    let method = params.get("method").cloned().unwrap_or_default();
    if !sim.verified(&params) {
        return sim.reply(
            &method,
            json!({ "code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature" }),
        );
    }
    let biz: Value =
        serde_json::from_str(params.get("biz_content").map(String::as_str).unwrap_or("{}")).unwrap_or_default();
    let no = biz["out_trade_no"].as_str().unwrap_or_default().to_string();
    let mut trades = sim.trades.lock().unwrap();
    let not_found = json!({ "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在" });
    match method.as_str() {
        "alipay.trade.query" => match trades.get(&no) {
            Some(t) => sim.reply(&method, json!({
                "code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": t.trade_no.clone().unwrap_or_default(),
                "trade_status": t.status, "total_amount": t.total_amount,
            })),
            None => sim.reply(&method, not_found),
        },
        "alipay.trade.close" => match trades.get_mut(&no) {
            Some(t) if t.status == "WAIT_BUYER_PAY" => {
                t.status = "TRADE_CLOSED".into();
                sim.reply(&method, json!({ "code": "10000", "msg": "Success", "out_trade_no": no }))
            }
            _ => sim.reply(&method, not_found),
        },
        "alipay.trade.refund" => {
            let request_no = biz["out_request_no"].as_str().unwrap_or_default().to_string();
            sim.refunds.lock().unwrap().insert(request_no, biz["refund_amount"].as_str().unwrap_or_default().into());
            sim.reply(&method, json!({ "code": "10000", "msg": "Success", "fund_change": "Y", "refund_fee": biz["refund_amount"] }))
        }
        "alipay.trade.fastpay.refund.query" => {
            let request_no = biz["out_request_no"].as_str().unwrap_or_default();
            match sim.refunds.lock().unwrap().get(request_no) {
                Some(amount) => sim.reply(&method, json!({ "code": "10000", "msg": "Success", "refund_status": "REFUND_SUCCESS", "refund_amount": amount })),
                None => sim.reply(&method, json!({ "code": "10000", "msg": "Success" })),
            }
        }
        _ => sim.reply(&method, json!({ "code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method" })),
    }
}

impl AlipaySim {
    pub async fn start() -> AlipaySim {
        let state = Arc::new(SimState {
            alipay_key: private_key_from_pem(&fixture("alipay_private_key.pem")).unwrap(),
            app_public: public_key_from_pem(&fixture("app_public_key.pem")).unwrap(),
            trades: Mutex::default(),
            refunds: Mutex::default(),
        });
        let data = web::Data::from(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let gateway_url = format!("http://127.0.0.1:{}/gateway.do", listener.local_addr().unwrap().port());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/gateway.do", web::get().to(cashier))
                .route("/gateway.do", web::post().to(api))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        AlipaySim { gateway_url, state }
    }

    pub fn write_config(&self, dir: &std::path::Path) -> std::path::PathBuf {
        std::fs::write(dir.join("app_private_key.pem"), fixture("app_private_key.pem")).unwrap();
        std::fs::write(dir.join("alipay_public_key.pem"), fixture("alipay_public_key.pem")).unwrap();
        let path = dir.join("alipay.toml");
        std::fs::write(
            &path,
            format!(
                "app_id = \"{APP_ID}\"\nseller_id = \"{SELLER_ID}\"\nprivate_key_file = \"app_private_key.pem\"\n\
                 alipay_public_key_file = \"alipay_public_key.pem\"\ngateway_url = \"{}\"\n",
                self.gateway_url
            ),
        )
        .unwrap();
        path
    }

    pub fn trade(&self, out_trade_no: &str) -> Option<Trade> {
        self.state.trades.lock().unwrap().get(out_trade_no).cloned()
    }

    /// The buyer pays at the cashier; the notification goes to `deliver_to` when given.
    pub async fn pay(&self, out_trade_no: &str, deliver_to: Option<&str>) -> BTreeMap<String, String> {
        let trade = {
            let mut trades = self.state.trades.lock().unwrap();
            let t = trades.get_mut(out_trade_no).expect("the buyer reached the cashier");
            t.status = "TRADE_SUCCESS".into();
            t.trade_no = Some(format!("2026112122001{}", rand::thread_rng().gen_range(100_000_000u64..999_999_999)));
            t.clone()
        };
        let fields = self.state.notification(out_trade_no, &trade, &self.state.alipay_key, |_| {});
        if let Some(url) = deliver_to {
            let response = reqwest::Client::new().post(url).form(&fields).send().await.unwrap();
            assert_eq!(response.text().await.unwrap(), "success", "the shop answers the literal success");
        }
        fields
    }

    pub fn alipay_key(&self) -> &PrivateKey {
        &self.state.alipay_key
    }
}
