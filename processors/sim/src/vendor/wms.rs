//! The WMS webhook shape: the inverse of `topology/sources/wms-webhook.toml`.
//!
//! camelCase, nested objects, RFC 3339 times in the site's offset, the send time in epoch
//! milliseconds, money as decimal strings, tolerances as fractions, enum values as the
//! vendor's lowercase words. A receipt line travels as a one-line receipt document.

use invex_model::{
    AckStatus, ApprovalDecision, ApprovalVerdict, AsnLine, BookSnapshot, CanonicalEvent,
    ConditionCode, CountEvent, CountType, EpcisAction, EventHeader, IntegrationAck, ItemMaster,
    OrderAllocation, PickEvent, ReceiptLine, ScanEvent, ScanResult, SourceSystem, StockType,
    TaskEvent, TaskStatus, TaskType,
};

use super::json::{Obj, object};
use super::text;

/// The webhook body of `event`.
pub(crate) fn render(event: &CanonicalEvent) -> String {
    let header = event.header();
    object(|o| {
        o.str("eventType", event_type(event));
        envelope(o, header);
        o.obj("data", |d| match event {
            CanonicalEvent::Scan(e) => scan(d, e),
            CanonicalEvent::Receipt(e) => receipt(d, e),
            CanonicalEvent::Pick(e) => pick(d, e),
            CanonicalEvent::Count(e) => count(d, e),
            CanonicalEvent::Task(e) => task(d, e),
            CanonicalEvent::Asn(e) => asn(d, e),
            CanonicalEvent::Book(e) => book(d, e),
            CanonicalEvent::Allocation(e) => allocation(d, e),
            CanonicalEvent::Ack(e) => ack(d, e),
            CanonicalEvent::Item(e) => item(d, e),
            CanonicalEvent::Approval(e) => approval(d, e),
        });
    })
}

fn event_type(event: &CanonicalEvent) -> &'static str {
    match event {
        CanonicalEvent::Scan(_) => "edge.barcode.scanned",
        CanonicalEvent::Receipt(_) => "inbound.receipt.confirmed",
        CanonicalEvent::Pick(_) => "outbound.pick.confirmed",
        CanonicalEvent::Count(_) => "inventory.count.recorded",
        CanonicalEvent::Task(_) => "inventory.task.updated",
        CanonicalEvent::Asn(_) => "inbound.asn.published",
        CanonicalEvent::Book(_) => "inventory.book.snapshot",
        CanonicalEvent::Allocation(_) => "order.allocation.changed",
        CanonicalEvent::Ack(_) => "integration.message.status",
        CanonicalEvent::Item(_) => "masterdata.item.upserted",
        CanonicalEvent::Approval(_) => "exception.decision.recorded",
    }
}

fn envelope(o: &mut Obj<'_>, h: &EventHeader) {
    o.str("eventId", &h.event_id)
        .str("occurredAt", &text::rfc3339(h.event_time, &h.event_tz_offset))
        .str("timeZoneOffset", &h.event_tz_offset)
        .int("recordedAt", h.record_time)
        .str("tenant", &h.tenant_id)
        .obj("facility", |f| {
            f.str("code", &h.site_id);
        })
        .obj("origin", |g| {
            g.str("system", system(h.source_system)).int("sequence", h.source_seq);
        })
        .obj("actor", |a| {
            a.opt_str("userId", h.operator_id.as_deref());
            a.opt_str("deviceId", h.device_id.as_deref());
        })
        .obj("epcis", |e| {
            e.str("action", action(h.action)).str("bizStep", &h.biz_step);
            e.opt_str("disposition", h.disposition.as_deref());
        });
    if let Some(correction) = &h.error_declaration {
        o.obj("correction", |c| {
            c.str("reason", &correction.reason);
            c.strs("correctsEventIds", &correction.corrects_event_ids);
        });
    }
}

fn date(days: Option<i32>) -> Option<String> {
    days.map(|d| text::iso_date(i64::from(d)))
}

fn scan(d: &mut Obj<'_>, e: &ScanEvent) {
    d.obj("barcode", |b| {
        b.str("raw", &e.raw_barcode).opt_str("symbology", e.symbology.as_deref());
    })
    .obj("item", |i| {
        i.str("sku", &e.sku).opt_str("gtin", e.gtin.as_deref()).opt_str("sscc", e.sscc.as_deref());
        i.opt_str("lot", e.lot.as_deref()).opt_str("expiry", date(e.expiry_date).as_deref());
        i.opt_str("serial", e.serial.as_deref());
    })
    .opt_str("licensePlate", e.lpn.as_deref())
    .str("location", &e.location_id)
    .obj("quantity", |q| {
        q.int("value", e.quantity).str("uom", &e.uom);
    })
    .str("result", scan_result(e.scan_result))
    .obj("task", |t| {
        t.opt_str("id", e.task_id.as_deref()).opt_str("type", e.task_type.as_deref());
        t.obj("expected", |x| {
            x.opt_str("gtin", e.expected_gtin.as_deref()).opt_str("lot", e.expected_lot.as_deref());
            x.opt_str("location", e.expected_location_id.as_deref());
        });
    });
}

fn receipt(d: &mut Obj<'_>, e: &ReceiptLine) {
    d.str("receiptNumber", &e.receipt_id)
        .opt_str("asnNumber", e.asn_id.as_deref())
        .obj("purchaseOrder", |p| {
            p.opt_str("number", e.po_id.as_deref());
        })
        .obj("supplier", |s| {
            s.opt_str("id", e.supplier_id.as_deref());
        })
        .obj("carrier", |c| {
            c.opt_str("id", e.carrier_id.as_deref());
        })
        .objs("lines", std::slice::from_ref(e), receipt_line);
}

fn receipt_line(l: &mut Obj<'_>, e: &ReceiptLine) {
    l.str("lineEventId", &e.header.event_id)
        .int("lineNumber", e.line_no.into())
        .opt_int("purchaseOrderLine", e.po_line.map(i64::from))
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("gtin", e.gtin.as_deref());
        })
        .obj("lot", |t| {
            t.opt_str("number", e.lot.as_deref()).opt_str("expiry", date(e.expiry_date).as_deref());
        })
        .strs("serialNumbers", &e.serials)
        .str("location", &e.location_id)
        .obj("quantity", |q| {
            q.int("received", e.qty_received).int("accepted", e.qty_accepted).str("uom", &e.uom);
        })
        .str("condition", condition(e.condition_code))
        .str("stockStatus", stock_status(e.stock_type))
        .opt_str("licensePlate", e.lpn.as_deref())
        .bool("closesReceipt", e.receipt_closed);
}

fn pick(d: &mut Obj<'_>, e: &PickEvent) {
    d.str("pickTaskId", &e.pick_task_id)
        .obj("order", |o| {
            o.str("number", &e.order_id).int("line", e.order_line.into());
        })
        .opt_str("allocationId", e.allocation_id.as_deref())
        .str("location", &e.location_id)
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("lot", e.lot.as_deref()).strs("serialNumbers", &e.serials);
        })
        .obj("quantity", |q| {
            q.int("requested", e.qty_requested).int("picked", e.qty_picked).str("uom", &e.uom);
        })
        .opt_str("shortReason", e.short_reason.as_deref())
        .obj("confirmation", |c| {
            c.str("method", &e.confirm_method);
        });
}

fn count(d: &mut Obj<'_>, e: &CountEvent) {
    let frozen_at = text::rfc3339(e.freeze_time, &e.header.event_tz_offset);
    d.str("countDocument", &e.count_doc_id)
        .str("countType", count_type(e.count_type))
        .int("round", e.count_seq.into())
        .bool("blind", e.blind)
        .str("location", &e.location_id)
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("lot", e.lot.as_deref());
        })
        .obj("counted", |c| {
            c.int("quantity", e.counted_qty).str("uom", &e.uom);
        })
        .opt_int("bookQuantityAtFreeze", e.wms_book_qty_at_freeze)
        .str("frozenAt", &frozen_at)
        .opt_str("counter", e.counter_id.as_deref());
}

fn task(d: &mut Obj<'_>, e: &TaskEvent) {
    d.str("taskId", &e.task_id)
        .str("taskType", task_type(e.task_type))
        .str("status", task_status(e.status))
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("lot", e.lot.as_deref());
        })
        .obj("quantity", |q| {
            q.int("value", e.quantity).str("uom", &e.uom);
        })
        .str("from", &e.from_location_id)
        .obj("to", |t| {
            t.opt_str("suggested", e.suggested_location_id.as_deref());
            t.opt_str("confirmed", e.actual_location_id.as_deref());
            t.opt_str("overrideReason", e.override_reason.as_deref());
        })
        .opt_str("licensePlate", e.lpn.as_deref());
}

fn asn(d: &mut Obj<'_>, e: &AsnLine) {
    let eta = e.eta.map(|t| text::rfc3339(t, &e.header.event_tz_offset));
    d.str("asnNumber", &e.asn_id)
        .str("purchaseOrder", &e.po_id)
        .int("lineNumber", e.line_no.into())
        .str("supplierId", &e.supplier_id)
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("gtin", e.gtin.as_deref());
        })
        .obj("expected", |x| {
            x.int("quantity", e.qty_expected).str("uom", &e.uom);
        })
        .objs("lots", &e.expected_lots, |l, lot| {
            l.str("number", &lot.lot).opt_str("expiry", date(lot.expiry_date).as_deref());
            l.int("quantity", lot.quantity);
        })
        .strs("ssccs", &e.ssccs)
        .obj("tolerance", |t| {
            if let Some(under) = e.under_tolerance_pct {
                t.number_text("under", &text::fraction_of_percent(under));
            }
            if let Some(over) = e.over_tolerance_pct {
                t.number_text("over", &text::fraction_of_percent(over));
            }
            t.bool("unlimitedOver", e.unlimited_over);
        })
        .opt_int("minShelfLifeDays", e.min_remaining_shelf_life_days.map(i64::from))
        .opt_str("eta", eta.as_deref());
}

fn book(d: &mut Obj<'_>, e: &BookSnapshot) {
    d.str("snapshotId", &e.snapshot_id)
        .str("location", &e.location_id)
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("lot", e.lot.as_deref());
        })
        .str("stockStatus", stock_status(e.stock_type))
        .obj("quantity", |q| {
            q.int("value", e.quantity).str("uom", &e.uom);
        })
        .obj("unitCost", |c| {
            c.str("amount", &text::decimal(e.unit_cost)).str("currency", &e.currency);
        });
}

fn allocation(d: &mut Obj<'_>, e: &OrderAllocation) {
    d.str("allocationId", &e.allocation_id)
        .obj("order", |o| {
            o.str("number", &e.order_id).int("line", e.order_line.into());
            o.opt_str("channel", e.channel.as_deref());
        })
        .obj("item", |i| {
            i.str("sku", &e.sku).opt_str("lot", e.lot.as_deref());
        })
        .opt_str("location", e.location_id.as_deref())
        .obj("quantity", |q| {
            q.int("ordered", e.qty_ordered).int("allocated", e.qty_allocated).str("uom", &e.uom);
        })
        .str("status", &e.status);
    if let Some(time) = e.promised_ship_time {
        d.number_text("promisedShipAt", &text::epoch_seconds(time));
    }
}

fn ack(d: &mut Obj<'_>, e: &IntegrationAck) {
    d.str("messageId", &e.message_id)
        .str("direction", &e.direction)
        .str("documentType", &e.doc_type)
        .obj("item", |i| {
            i.str("sku", &e.sku);
        })
        .int("quantity", e.quantity)
        .strs("relatedEventIds", &e.related_event_ids)
        .str("status", ack_status(e.status))
        .opt_str("errorCode", e.error_code.as_deref())
        .int("attempt", e.attempt.into());
}

fn item(d: &mut Obj<'_>, e: &ItemMaster) {
    d.str("sku", &e.sku)
        .strs("gtins", &e.gtins)
        .str("baseUom", &e.base_uom)
        .opt_int("casePack", e.case_pack)
        .str("abcClass", &e.abc_class)
        .obj("unitCost", |c| {
            c.str("amount", &text::decimal(e.unit_cost)).str("currency", &e.currency);
        })
        .obj("tracking", |t| {
            t.bool("lot", e.lot_controlled).bool("serial", e.serial_controlled);
        })
        .opt_int("minShelfLifeDays", e.min_remaining_shelf_life_days.map(i64::from));
}

fn approval(d: &mut Obj<'_>, e: &ApprovalDecision) {
    d.str("exceptionId", &e.exception_id)
        .opt_str("approvalRequestId", e.approval_request_id.as_deref())
        .str("verdict", verdict(e.verdict))
        .obj("decidedBy", |b| {
            b.str("user", &e.actor).opt_str("role", e.actor_role.as_deref());
        })
        .opt_str("comment", e.comment.as_deref())
        .opt_str("reasonCode", e.reason_code.as_deref())
        .str("sku", &e.sku);
}

fn action(action: EpcisAction) -> &'static str {
    match action {
        EpcisAction::Add => "ADD",
        EpcisAction::Observe => "OBSERVE",
        EpcisAction::Delete => "DELETE",
    }
}

fn system(source: SourceSystem) -> &'static str {
    match source {
        SourceSystem::Wms => "wms",
        SourceSystem::Erp => "erp",
        SourceSystem::Edge => "edge",
        SourceSystem::Oms => "oms",
        SourceSystem::Human => "human",
        SourceSystem::Simulator => "simulator",
    }
}

fn scan_result(result: ScanResult) -> &'static str {
    match result {
        ScanResult::Ok => "ok",
        ScanResult::NoRead => "no-read",
        ScanResult::Mismatch => "mismatch",
        ScanResult::UnknownItem => "unknown-item",
    }
}

fn condition(code: ConditionCode) -> &'static str {
    match code {
        ConditionCode::Good => "good",
        ConditionCode::Damaged => "damaged",
        ConditionCode::IncorrectProduct => "wrong-item",
        ConditionCode::QualityProblem => "quality-issue",
        ConditionCode::Rejected => "rejected",
    }
}

fn stock_status(stock: StockType) -> &'static str {
    match stock {
        StockType::Unrestricted => "available",
        StockType::QualityInspection => "inspection",
        StockType::Blocked => "blocked",
    }
}

fn count_type(kind: CountType) -> &'static str {
    match kind {
        CountType::Abc => "cycle",
        CountType::Demand => "on-demand",
        CountType::NearZero => "near-zero",
        CountType::EmptyLocation => "empty-location",
    }
}

fn task_type(kind: TaskType) -> &'static str {
    match kind {
        TaskType::Putaway => "putaway",
        TaskType::Replenishment => "replenishment",
        TaskType::Move => "move",
    }
}

fn task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Created => "created",
        TaskStatus::Confirmed => "confirmed",
        TaskStatus::Cancelled => "cancelled",
    }
}

fn ack_status(status: AckStatus) -> &'static str {
    match status {
        AckStatus::Sent => "sent",
        AckStatus::Ack => "acknowledged",
        AckStatus::Error => "failed",
        AckStatus::Retrying => "retrying",
    }
}

fn verdict(verdict: ApprovalVerdict) -> &'static str {
    match verdict {
        ApprovalVerdict::Approve => "approve",
        ApprovalVerdict::Reject => "reject",
        ApprovalVerdict::RequestRecount => "recount",
        ApprovalVerdict::Acknowledge => "acknowledge",
        ApprovalVerdict::Resolve => "resolve",
        ApprovalVerdict::Hold => "hold",
        ApprovalVerdict::Release => "release",
        ApprovalVerdict::Cancel => "cancel",
    }
}
