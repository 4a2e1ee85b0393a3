//! The ERP IDoc-like shape: the inverse of `topology/sources/erp-idoc.toml`.
//!
//! A control record `EDI_DC40`, an event header segment `E1EVHDR` and one message segment,
//! every value a string: dates `YYYYMMDD`, times `HHMMSS` plus a millisecond field (UTC),
//! quantities with three decimals and SAP's trailing minus, flags `X` or empty, units in ERP
//! codes (`ST` for each, `KAR` for a case), an absent date as `00000000`.

use invex_model::{
    AckStatus, ApprovalDecision, ApprovalVerdict, AsnLine, BookSnapshot, CanonicalEvent,
    ConditionCode, CountEvent, CountType, EpcisAction, EventHeader, IntegrationAck, ItemMaster,
    OrderAllocation, PickEvent, ReceiptLine, ScanEvent, ScanResult, SourceSystem, StockType,
    TaskEvent, TaskStatus, TaskType,
};

use super::json::{Obj, object};
use super::text::{self, sap_quantity};

/// The IDoc export of `event`.
pub(crate) fn render(event: &CanonicalEvent) -> String {
    object(|o| {
        o.obj("IDOC", |idoc| {
            control(idoc, event);
            event_header(idoc, event.header());
            match event {
                CanonicalEvent::Scan(e) => scan(idoc, e),
                CanonicalEvent::Receipt(e) => receipt(idoc, e),
                CanonicalEvent::Pick(e) => pick(idoc, e),
                CanonicalEvent::Count(e) => count(idoc, e),
                CanonicalEvent::Task(e) => task(idoc, e),
                CanonicalEvent::Asn(e) => asn(idoc, e),
                CanonicalEvent::Book(e) => book(idoc, e),
                CanonicalEvent::Allocation(e) => allocation(idoc, e),
                CanonicalEvent::Ack(e) => ack(idoc, e),
                CanonicalEvent::Item(e) => item(idoc, e),
                CanonicalEvent::Approval(e) => approval(idoc, e),
            }
        });
    })
}

/// Message type and basic type of each event.
fn message_type(event: &CanonicalEvent) -> (&'static str, &'static str) {
    match event {
        CanonicalEvent::Scan(_) => ("ZWMSCAN", "ZWMSCAN01"),
        CanonicalEvent::Receipt(_) => ("ZWMRCPT", "ZWMRCPT01"),
        CanonicalEvent::Pick(_) => ("ZWMPICK", "ZWMPICK01"),
        CanonicalEvent::Count(_) => ("ZWMINVC", "ZWMINVC01"),
        CanonicalEvent::Task(_) => ("ZWMTOCO", "ZWMTOCO01"),
        CanonicalEvent::Asn(_) => ("ZDESADV", "ZDELVRY01"),
        CanonicalEvent::Book(_) => ("ZWMBSTK", "ZWMBSTK01"),
        CanonicalEvent::Allocation(_) => ("ZORDALC", "ZORDALC01"),
        CanonicalEvent::Ack(_) => ("ZINTACK", "ZINTACK01"),
        CanonicalEvent::Item(_) => ("ZMATMAS", "ZMATMAS01"),
        CanonicalEvent::Approval(_) => ("ZAPPRDEC", "ZAPPRDEC01"),
    }
}

/// Writes a UTC time as the three fields `<date>`, `<time>`, `<time>_MS`.
fn time_fields(o: &mut Obj<'_>, (date, time): (&str, &str), ms: i64) {
    let (days, in_day) = text::split_ms(ms);
    o.str(date, &text::yyyymmdd(days)).str(time, &text::hhmmss(in_day));
    o.str(&format!("{time}_MS"), &text::millis(in_day));
}

fn control(o: &mut Obj<'_>, event: &CanonicalEvent) {
    let h = event.header();
    let (message, basic) = message_type(event);
    o.obj("EDI_DC40", |c| {
        c.str("TABNAM", "EDI_DC40").str("DOCNUM", &format!("{:016}", h.source_seq));
        c.str("DIRECT", "1").str("IDOCTYP", basic).str("MESTYP", message);
        c.str("SNDPRT", "LS").str("SNDPRN", partner(h.source_system));
        c.str("RCVPRT", "LS").str("RCVPRN", "INVEX");
        time_fields(c, ("CREDAT", "CRETIM"), h.record_time);
        c.str("SERIAL", &h.source_seq.to_string()).str("ARCKEY", &h.event_id);
    });
}

fn event_header(o: &mut Obj<'_>, h: &EventHeader) {
    o.obj("E1EVHDR", |s| {
        s.str("BUKRS", &h.tenant_id).str("WERKS", &h.site_id);
        time_fields(s, ("EVDAT", "EVTIM"), h.event_time);
        s.str("TZOFF", &h.event_tz_offset);
        s.opt_str("ERNAM", h.operator_id.as_deref()).opt_str("TERMID", h.device_id.as_deref());
        s.str("ACTIO", action(h.action)).str("BIZSTEP", &h.biz_step);
        s.opt_str("DISPO", h.disposition.as_deref());
        if let Some(correction) = &h.error_declaration {
            s.obj("E1EVCOR", |c| {
                c.str("REASON", &correction.reason);
                c.objs("E1EVREF", &correction.corrects_event_ids, |r, id| {
                    r.str("ARCKEY", id);
                });
            });
        }
    });
}

/// An ERP unit code for a canonical unit (each and case differ, the rest are shared).
fn unit(uom: &str) -> &str {
    match uom {
        "EA" => "ST",
        "CS" => "KAR",
        other => other,
    }
}

fn flag(value: bool) -> &'static str {
    if value { "X" } else { "" }
}

/// An optional date; SAP writes "no date" as zeros.
fn date(days: Option<i32>) -> String {
    days.map_or_else(|| "00000000".to_owned(), |d| text::yyyymmdd(i64::from(d)))
}

fn serials(o: &mut Obj<'_>, serials: &[String]) {
    o.objs("E1WSERN", serials, |s, serial| {
        s.str("SERNR", serial);
    });
}

fn scan(o: &mut Obj<'_>, e: &ScanEvent) {
    o.obj("E1WSCAN", |s| {
        s.str("BARCODE", &e.raw_barcode).opt_str("SYMBOL", e.symbology.as_deref());
        s.str("MATNR", &e.sku).opt_str("EAN11", e.gtin.as_deref());
        s.opt_str("EXIDV", e.sscc.as_deref()).opt_str("LENUM", e.lpn.as_deref());
        s.opt_str("CHARG", e.lot.as_deref()).str("VFDAT", &date(e.expiry_date));
        s.opt_str("SERNR", e.serial.as_deref()).str("LGPLA", &e.location_id);
        s.str("MENGE", &sap_quantity(e.quantity)).str("MEINS", unit(&e.uom));
        s.str("SCNRC", scan_result(e.scan_result));
        s.opt_str("TANUM", e.task_id.as_deref()).opt_str("TATYP", e.task_type.as_deref());
        s.opt_str("SOLL_EAN11", e.expected_gtin.as_deref());
        s.opt_str("SOLL_CHARG", e.expected_lot.as_deref());
        s.opt_str("SOLL_LGPLA", e.expected_location_id.as_deref());
    });
}

fn receipt(o: &mut Obj<'_>, e: &ReceiptLine) {
    o.obj("E1WRCPH", |h| {
        h.str("MBLNR", &e.receipt_id).opt_str("VBELN", e.asn_id.as_deref());
        h.opt_str("EBELN", e.po_id.as_deref()).opt_str("LIFNR", e.supplier_id.as_deref());
        h.opt_str("TDLNR", e.carrier_id.as_deref());
    });
    o.objs("E1WRCPI", std::slice::from_ref(e), |i, e| {
        i.str("EVTID", &e.header.event_id).str("ZEILE", &format!("{:04}", e.line_no));
        if let Some(po_line) = e.po_line {
            i.str("EBELP", &format!("{po_line:05}"));
        }
        i.str("MATNR", &e.sku).opt_str("EAN11", e.gtin.as_deref());
        i.opt_str("CHARG", e.lot.as_deref()).str("VFDAT", &date(e.expiry_date));
        serials(i, &e.serials);
        i.str("LGPLA", &e.location_id);
        i.str("ERFMG", &sap_quantity(e.qty_received)).str("MENGE", &sap_quantity(e.qty_accepted));
        i.str("MEINS", unit(&e.uom)).str("ZUSTD", condition(e.condition_code));
        i.str("BESTQ", stock_type(e.stock_type)).opt_str("LENUM", e.lpn.as_deref());
        i.str("ELIKZ", flag(e.receipt_closed));
    });
}

fn pick(o: &mut Obj<'_>, e: &PickEvent) {
    o.obj("E1WPICK", |s| {
        s.str("TANUM", &e.pick_task_id).str("VBELN", &e.order_id);
        s.str("POSNR", &format!("{:06}", e.order_line));
        s.opt_str("ALLOCID", e.allocation_id.as_deref()).str("VLPLA", &e.location_id);
        s.str("MATNR", &e.sku).opt_str("CHARG", e.lot.as_deref());
        serials(s, &e.serials);
        s.str("VSOLM", &sap_quantity(e.qty_requested)).str("VISTM", &sap_quantity(e.qty_picked));
        s.str("MEINS", unit(&e.uom)).opt_str("KZDIF", e.short_reason.as_deref());
        s.str("CONFM", &e.confirm_method);
    });
}

fn count(o: &mut Obj<'_>, e: &CountEvent) {
    o.obj("E1WINVC", |s| {
        s.str("IVNUM", &e.count_doc_id).str("IVART", count_type(e.count_type));
        s.str("ZLNR", &e.count_seq.to_string()).str("BLIND", flag(e.blind));
        s.str("LGPLA", &e.location_id).str("MATNR", &e.sku).opt_str("CHARG", e.lot.as_deref());
        s.str("MENGE", &sap_quantity(e.counted_qty)).str("MEINS", unit(&e.uom));
        if let Some(book) = e.wms_book_qty_at_freeze {
            s.str("BUCHM", &sap_quantity(book));
        }
        time_fields(s, ("FRZDAT", "FRZTIM"), e.freeze_time);
        s.opt_str("USNAM", e.counter_id.as_deref());
    });
}

fn task(o: &mut Obj<'_>, e: &TaskEvent) {
    o.obj("E1WTOCO", |s| {
        s.str("TANUM", &e.task_id).str("TATYP", task_type(e.task_type));
        s.str("TASTA", task_status(e.status));
        s.str("MATNR", &e.sku).opt_str("CHARG", e.lot.as_deref());
        s.str("MENGE", &sap_quantity(e.quantity)).str("MEINS", unit(&e.uom));
        s.str("VLPLA", &e.from_location_id);
        s.opt_str("NLPLA_SOLL", e.suggested_location_id.as_deref());
        s.opt_str("NLPLA", e.actual_location_id.as_deref());
        s.opt_str("GRUND", e.override_reason.as_deref()).opt_str("LENUM", e.lpn.as_deref());
    });
}

fn asn(o: &mut Obj<'_>, e: &AsnLine) {
    o.obj("E1EDL20", |s| {
        s.str("VBELN", &e.asn_id).str("EBELN", &e.po_id);
        s.str("POSNR", &format!("{:06}", e.line_no)).str("LIFNR", &e.supplier_id);
        s.str("MATNR", &e.sku).opt_str("EAN11", e.gtin.as_deref());
        s.str("LFIMG", &sap_quantity(e.qty_expected)).str("VRKME", unit(&e.uom));
        s.objs("E1CHARG", &e.expected_lots, |l, lot| {
            l.str("CHARG", &lot.lot).str("VFDAT", &date(lot.expiry_date));
            l.str("MENGE", &sap_quantity(lot.quantity));
        });
        s.objs("E1SSCC", &e.ssccs, |c, sscc| {
            c.str("EXIDV", sscc);
        });
        s.opt_str("UNTTO", e.under_tolerance_pct.map(text::decimal).as_deref());
        s.opt_str("UEBTO", e.over_tolerance_pct.map(text::decimal).as_deref());
        s.str("UEBTK", flag(e.unlimited_over));
        s.opt_str("MHDRZ", e.min_remaining_shelf_life_days.map(|d| d.to_string()).as_deref());
        if let Some(eta) = e.eta {
            time_fields(s, ("LFDAT", "LFUHR"), eta);
        }
    });
}

fn book(o: &mut Obj<'_>, e: &BookSnapshot) {
    o.obj("E1WBSTK", |s| {
        s.str("SNAPID", &e.snapshot_id).str("LGPLA", &e.location_id);
        s.str("MATNR", &e.sku).opt_str("CHARG", e.lot.as_deref());
        s.str("BESTQ", stock_type(e.stock_type));
        s.str("MENGE", &sap_quantity(e.quantity)).str("MEINS", unit(&e.uom));
        s.str("VERPR", &text::decimal(e.unit_cost)).str("WAERS", &e.currency);
    });
}

fn allocation(o: &mut Obj<'_>, e: &OrderAllocation) {
    o.obj("E1ORALC", |s| {
        s.str("ALLOCID", &e.allocation_id).str("VBELN", &e.order_id);
        s.str("POSNR", &format!("{:06}", e.order_line)).opt_str("VTWEG", e.channel.as_deref());
        s.str("MATNR", &e.sku).opt_str("LGPLA", e.location_id.as_deref());
        s.opt_str("CHARG", e.lot.as_deref());
        s.str("KWMENG", &sap_quantity(e.qty_ordered)).str("ALMNG", &sap_quantity(e.qty_allocated));
        s.str("VRKME", unit(&e.uom)).str("STATUS", &e.status);
        if let Some(time) = e.promised_ship_time {
            time_fields(s, ("WADAT", "WAUHR"), time);
        }
    });
}

fn ack(o: &mut Obj<'_>, e: &IntegrationAck) {
    o.obj("E1INTAK", |s| {
        s.str("MSGID", &e.message_id).str("DIRECTION", &e.direction);
        s.str("DOCTYP", &e.doc_type).str("MATNR", &e.sku);
        s.str("MENGE", &sap_quantity(e.quantity));
        s.objs("E1EVREF", &e.related_event_ids, |r, id| {
            r.str("ARCKEY", id);
        });
        s.str("STATUS", ack_status(e.status)).opt_str("ERRCODE", e.error_code.as_deref());
        s.str("ATTEMPT", &e.attempt.to_string());
    });
}

fn item(o: &mut Obj<'_>, e: &ItemMaster) {
    o.obj("E1MARAM", |s| {
        s.str("MATNR", &e.sku);
        s.objs("E1MEANM", &e.gtins, |g, gtin| {
            g.str("EAN11", gtin);
        });
        s.str("MEINS", unit(&e.base_uom));
        s.opt_str("UMREZ", e.case_pack.map(|n| n.to_string()).as_deref());
        s.str("ABCKZ", &e.abc_class);
        s.str("VERPR", &text::decimal(e.unit_cost)).str("WAERS", &e.currency);
        s.str("XCHPF", flag(e.lot_controlled)).str("SERNP", flag(e.serial_controlled));
        s.opt_str("MHDRZ", e.min_remaining_shelf_life_days.map(|d| d.to_string()).as_deref());
    });
}

fn approval(o: &mut Obj<'_>, e: &ApprovalDecision) {
    o.obj("E1APPRD", |s| {
        s.str("EXCID", &e.exception_id).opt_str("REQID", e.approval_request_id.as_deref());
        s.str("VERDICT", verdict(e.verdict)).str("UNAME", &e.actor);
        s.opt_str("ROLE", e.actor_role.as_deref()).opt_str("TEXT", e.comment.as_deref());
        s.opt_str("GRUND", e.reason_code.as_deref()).str("MATNR", &e.sku);
    });
}

fn partner(source: SourceSystem) -> &'static str {
    match source {
        SourceSystem::Wms => "WMSCLNT100",
        SourceSystem::Erp => "ERPCLNT100",
        SourceSystem::Edge => "EDGEGW01",
        SourceSystem::Oms => "OMSCLNT100",
        SourceSystem::Human => "WFAPPROVAL",
        SourceSystem::Simulator => "INVEXSIM",
    }
}

fn action(action: EpcisAction) -> &'static str {
    match action {
        EpcisAction::Add => "01",
        EpcisAction::Observe => "02",
        EpcisAction::Delete => "03",
    }
}

fn scan_result(result: ScanResult) -> &'static str {
    match result {
        ScanResult::Ok => "00",
        ScanResult::NoRead => "01",
        ScanResult::Mismatch => "02",
        ScanResult::UnknownItem => "03",
    }
}

fn condition(code: ConditionCode) -> &'static str {
    match code {
        ConditionCode::Good => "01",
        ConditionCode::Damaged => "02",
        ConditionCode::IncorrectProduct => "03",
        ConditionCode::QualityProblem => "04",
        ConditionCode::Rejected => "05",
    }
}

fn stock_type(stock: StockType) -> &'static str {
    match stock {
        StockType::Unrestricted => "",
        StockType::QualityInspection => "Q",
        StockType::Blocked => "S",
    }
}

fn count_type(kind: CountType) -> &'static str {
    match kind {
        CountType::Abc => "ABC",
        CountType::Demand => "ADHOC",
        CountType::NearZero => "NZERO",
        CountType::EmptyLocation => "EMPTY",
    }
}

fn task_type(kind: TaskType) -> &'static str {
    match kind {
        TaskType::Putaway => "PA",
        TaskType::Replenishment => "RP",
        TaskType::Move => "MV",
    }
}

fn task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Created => "O",
        TaskStatus::Confirmed => "Q",
        TaskStatus::Cancelled => "X",
    }
}

fn ack_status(status: AckStatus) -> &'static str {
    match status {
        AckStatus::Sent => "03",
        AckStatus::Ack => "53",
        AckStatus::Error => "51",
        AckStatus::Retrying => "64",
    }
}

fn verdict(verdict: ApprovalVerdict) -> &'static str {
    match verdict {
        ApprovalVerdict::Approve => "APPR",
        ApprovalVerdict::Reject => "REJC",
        ApprovalVerdict::RequestRecount => "RCNT",
        ApprovalVerdict::Acknowledge => "ACKN",
        ApprovalVerdict::Resolve => "RSLV",
        ApprovalVerdict::Hold => "HOLD",
        ApprovalVerdict::Release => "RELS",
        ApprovalVerdict::Cancel => "CNCL",
    }
}
