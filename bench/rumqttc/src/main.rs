//! `bench-rumqttc pubsub <host> <port> <qos> <size> <window> <warm ms> <measure ms> <pause ms> <broker pid>`
//!
//! The bench's pubsub case with rumqttc: a subscriber and a publisher in this process, on one
//! tokio thread; at most `window` messages between publish and delivery, topped up from the
//! subscriber's loop. A first burst for `warm ms`, everything delivered, a pause, then `warm ms`
//! more and a measured window of `measure ms`. Prints `RESULT {json}` with the same fields as
//! bench/worker.js. Under `perf stat` (BENCH_PERF_CTL / BENCH_PERF_ACK) it switches the counting
//! on and off around the measured window, as bench/measure.js does.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

struct Flow {
    sent: AtomicU64,
    received: AtomicU64,
    holding: AtomicBool,
    window: u64,
    qos: QoS,
    payload: Vec<u8>,
    topic: String,
}

impl Flow {
    fn top_up(&self, client: &AsyncClient) {
        if self.holding.load(Ordering::Relaxed) {
            return;
        }
        while self.sent.load(Ordering::Relaxed) - self.received.load(Ordering::Relaxed)
            < self.window
        {
            if client
                .try_publish(&self.topic, self.qos, false, self.payload.clone())
                .is_err()
            {
                return;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn options(id: &str, host: &str, port: u16, window: u64) -> MqttOptions {
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(u16::try_from(window.min(65535)).unwrap_or(u16::MAX));
    o.set_max_packet_size(1 << 20, 1 << 20);
    o
}

async fn until_connack(events: &mut EventLoop) {
    loop {
        if let Ok(Event::Incoming(Packet::ConnAck(_))) = events.poll().await {
            return;
        }
    }
}

struct Snapshot {
    t: Instant,
    cpu_us: f64,
    switches: f64,
    broker_us: Option<f64>,
}

fn snapshot(broker: u32) -> Snapshot {
    // SAFETY: getrusage fills the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    Snapshot {
        t: Instant::now(),
        cpu_us: us(usage.ru_utime) + us(usage.ru_stime),
        switches: (usage.ru_nvcsw + usage.ru_nivcsw) as f64,
        broker_us: process_cpu_us(broker),
    }
}

fn process_cpu_us(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 1e6 / 100.0)
}

/// `perf stat --control` FIFOs, when the bench runs us under perf.
fn perf_control(on: bool) {
    let (Ok(ctl), Ok(ack)) = (
        std::env::var("BENCH_PERF_CTL"),
        std::env::var("BENCH_PERF_ACK"),
    ) else {
        return;
    };
    if let (Ok(mut c), Ok(mut a)) = (
        OpenOptions::new().write(true).open(ctl),
        OpenOptions::new().read(true).open(ack),
    ) {
        let _ = c.write_all(if on { b"enable\n" } else { b"disable\n" });
        let mut buf = [0u8; 5];
        let _ = a.read(&mut buf);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 11 || args[1] != "pubsub" {
        eprintln!("usage: bench-rumqttc pubsub <host> <port> <qos> <size> <window> <warm ms> <measure ms> <pause ms> <broker pid>");
        std::process::exit(2);
    }
    let num = |i: usize| args[i].parse::<u64>().unwrap_or(0);
    let (host, port) = (args[2].clone(), num(3) as u16);
    let qos = match num(4) {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let (warm, measure, pause) = (
        Duration::from_millis(num(7)),
        Duration::from_millis(num(8)),
        Duration::from_millis(num(9)),
    );
    let broker = num(10) as u32;
    let pid = std::process::id();
    let flow = Arc::new(Flow {
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        holding: AtomicBool::new(false),
        window: num(6).max(1),
        qos,
        payload: vec![b'a'; num(5) as usize],
        topic: format!("bench/{pid}/rumqttc"),
    });

    let (sub, mut sub_events) = AsyncClient::new(
        options(&format!("rq-sub-{pid}"), &host, port, flow.window),
        16,
    );
    until_connack(&mut sub_events).await;
    let _ = sub.subscribe(&flow.topic, qos).await;
    loop {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = sub_events.poll().await {
            break;
        }
    }
    let cap = usize::try_from(flow.window * 2).unwrap_or(4096);
    let (publisher, mut pub_events) = AsyncClient::new(
        options(&format!("rq-pub-{pid}"), &host, port, flow.window),
        cap,
    );
    until_connack(&mut pub_events).await;

    tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let sub_flow = flow.clone();
    let sub_publisher = publisher.clone();
    tokio::spawn(async move {
        let _keep = sub;
        loop {
            match sub_events.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    let received = sub_flow.received.fetch_add(1, Ordering::Relaxed) + 1;
                    if sub_flow.sent.load(Ordering::Relaxed) - received <= sub_flow.window / 2 {
                        sub_flow.top_up(&sub_publisher);
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });

    flow.top_up(&publisher);
    if !pause.is_zero() {
        tokio::time::sleep(warm).await;
        flow.holding.store(true, Ordering::Relaxed);
        while flow.received.load(Ordering::Relaxed) < flow.sent.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(pause).await;
        flow.holding.store(false, Ordering::Relaxed);
        flow.top_up(&publisher);
    }
    tokio::time::sleep(warm).await;
    let c0 = flow.received.load(Ordering::Relaxed);
    let a = snapshot(broker);
    perf_control(true);
    tokio::time::sleep(measure).await;
    perf_control(false);
    let c1 = flow.received.load(Ordering::Relaxed);
    let b = snapshot(broker);
    let n = (c1 - c0).max(1) as f64;
    let seconds = (b.t - a.t).as_secs_f64();
    let broker_pct = match (a.broker_us, b.broker_us) {
        (Some(x), Some(y)) => format!("{:.1}", (y - x) / 1e6 / seconds * 100.0),
        _ => "null".into(),
    };
    println!(
        "RESULT {{\"lib\":\"rumqttc\",\"messages\":{},\"seconds\":{:.4},\"msgPerSec\":{:.0},\"cpuUsPerMsg\":{:.3},\"ctxSwitchesPerMsg\":{:.3},\"peerCpuPercent\":{}}}",
        c1 - c0,
        seconds,
        n / seconds,
        (b.cpu_us - a.cpu_us) / n,
        (b.switches - a.switches) / n,
        broker_pct
    );
    std::process::exit(0);
}
