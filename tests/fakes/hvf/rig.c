// SPDX-License-Identifier: MIT
/* The fixtures the HVF scenario tests share (see rig.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "rig.h"

const struct hv_ops *const hv = &hv_hvf_ops;

void rig_vm(struct rig *r, unsigned nr_vcpus)
{
	struct hv_vm_params p = { .nr_vcpus = nr_vcpus };

	assert_int_equal(hv->probe(&r->caps, &r->e), 0);
	assert_int_equal(layout_init(&r->l, RAM_MIN_SIZE, nr_vcpus, &r->caps.gic, &r->e), 0);
	p.ipa_bits = layout_ipa_bits(&r->l);
	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	/* Like the VMM: anonymous mmap, aligned to the host page HVF wants. */
	r->map_len = r->l.ram_size + r->caps.ram_align;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->map != MAP_FAILED);
	r->ram = (uint8_t *)(((uintptr_t)r->map + r->caps.ram_align - 1) &
			     ~(uintptr_t)(r->caps.ram_align - 1));
	assert_int_equal(hv->map_ram(r->vm, r->l.ram_base, r->ram, r->l.ram_size, &r->e), 0);
	assert_int_equal(hv->gic_create(r->vm, &r->l, &r->e), 0);
}

void rig_vcpu(struct rig *r)
{
	assert_int_equal(hv->vcpu_create(r->vm, 0, mpidr_for_vcpu(0), &r->vcpu, &r->e), 0);
	assert_int_equal(hv->vcpu_set_boot(r->vcpu, ENTRY, DTB, &r->e), 0);
}

void rig_again(struct rig *r)
{
	if (r->vcpu)
		hv->vcpu_destroy(r->vcpu);
	if (r->vm)
		hv->vm_destroy(r->vm);
	if (r->map)
		munmap(r->map, r->map_len);
	assert_int_equal(fake_violations(), 0);
	memset(r, 0, sizeof(*r));
	fake_reset(NULL);
}

int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	fake_reset(NULL);
	*state = r;
	return r ? 0 : -1;
}

int rig_teardown(void **state)
{
	struct rig *r = *state;
	int bad = 0;

	if (r->vcpu)
		hv->vcpu_destroy(r->vcpu);
	if (r->vm)
		hv->vm_destroy(r->vm);
	if (r->map)
		munmap(r->map, r->map_len);
	for (unsigned i = 0; i < fake_violations(); i++, bad = -1)
		fprintf(stderr, "violation: %s\n", fake_violation(i));
	if (fake_live_objects()) {
		fprintf(stderr, "%u configuration objects never released\n", fake_live_objects());
		bad = -1;
	}
	if (r->vm && fake_vm_exists()) {
		fprintf(stderr, "hv_vm_destroy was not called\n");
		bad = -1;
	}
	free(r);
	return bad;
}

struct hv_exit run_expect(struct rig *r, enum hv_exit_reason reason)
{
	struct hv_exit x;

	memset(&x, 0xa5, sizeof(x));
	assert_int_equal(hv->vcpu_run(r->vcpu, &x, &r->e), 0);
	assert_int_equal(x.reason, reason);
	return x;
}

static void *knocker_main(void *arg)
{
	struct knocker *k = arg;

	if (k->wait_reg)
		k->waited = fake_wait_sys_reads(MPIDR0, k->wait_reg, k->reads_before + 1, 5000);
	else
		k->waited = fake_wait_steps(MPIDR0, k->wait_steps, 5000);
	k->at = fake_now_ns();
	if (k->spi)
		hv->set_spi(k->r->vm, k->spi, true);
	else
		hv->kick(k->r->vcpu);
	if (k->release)
		fake_release(MPIDR0);
	return NULL;
}

void knocker_start(struct knocker *k)
{
	/* vCPU creation reads registers too (its fresh EL1 state): count from here. */
	if (k->wait_reg)
		k->reads_before = fake_sys_reads(MPIDR0, k->wait_reg);
	assert_int_equal(pthread_create(&k->thread, NULL, knocker_main, k), 0);
}

void knocker_join(struct knocker *k)
{
	pthread_join(k->thread, NULL);
	assert_true(k->waited);
}
