/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cow

#if !defined(_TRACE_COW_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_COW_H

#include <linux/cow_stat.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

int cow_stat_trace_reg(void);
void cow_stat_trace_unreg(void);

/*
 * One Copy-on-Write fault with the time spent in each phase, the same
 * fields as the "cow_stat:" kernel log line.  Registering a probe turns
 * the timing on; see mm/cow_stat.c.
 */
TRACE_EVENT_FN(cow_fault,
	       TP_PROTO(const struct cow_stat_sample *s),
	       TP_ARGS(s),
	       TP_STRUCT__entry(__field(u64, seq)
				__string(kind, s->kind)
				__field(unsigned int, order)
				__field(unsigned int, src_order)
				__field(unsigned long, pfn)
				__field(u64, alloc_ns)
				__field(u64, copy_ns)
				__field(u64, install_ns)
				__field(u64, total_ns)),
	       TP_fast_assign(__entry->seq = s->seq;
			      __assign_str(kind);
			      __entry->order = s->order;
			      __entry->src_order = s->src_order;
			      __entry->pfn = s->pfn;
			      __entry->alloc_ns = s->alloc_ns;
			      __entry->copy_ns = s->copy_ns;
			      __entry->install_ns = s->install_ns;
			      __entry->total_ns = s->total_ns;),
	       TP_printk("seq=%llu kind=%s order=%u src_order=%u pfn=0x%lx alloc_ns=%llu copy_ns=%llu install_ns=%llu total_ns=%llu",
			 __entry->seq, __get_str(kind), __entry->order,
			 __entry->src_order, __entry->pfn, __entry->alloc_ns,
			 __entry->copy_ns, __entry->install_ns,
			 __entry->total_ns),
	       cow_stat_trace_reg, cow_stat_trace_unreg);

#endif /* _TRACE_COW_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
