// SPDX-License-Identifier: MIT
/* The fake's clock, OS objects, VM, guest memory and GIC (see fake.h for the rules checked). */
#include <stdlib.h>
#include <string.h>

#include <mach/mach_time.h>

#include "fake_int.h"

kern_return_t mach_timebase_info(mach_timebase_info_t info)
{
	info->numer = 125;
	info->denom = 3;
	return 0;
}

uint64_t mach_absolute_time(void)
{
	return fake_ticks(fake_now_ns());
}

bool hv_fake_os_available(const char *versions)
{
	const char *p = strstr(versions, "macOS");
	unsigned major = p ? (unsigned)strtoul(p + 5, NULL, 10) : 0;

	if (!major) {
		pthread_mutex_lock(&fk.lock);
		fk_violation("__builtin_available(%s) names no macOS release", versions);
		pthread_mutex_unlock(&fk.lock);
	}
	return fk.host.macos >= major;
}

bool fk_gic_api_ok(const char *fn)
{
	if (fk.host.macos >= 15)
		return true;
	fk_violation("%s called on macOS %u: the symbol is missing there", fn, fk.host.macos);
	return false;
}

/* ---- objects ---- */

static void *object_new(size_t size, int magic)
{
	int *o;

	if (fk.nr_objects == FAKE_MAX_OBJECTS)
		return NULL;
	o = calloc(1, size);
	if (o) {
		*o = magic;
		fk.objects[fk.nr_objects++] = o;
	}
	return o;
}

static bool fk_object_live(const void *o, int magic, const char *fn)
{
	const struct hv_vm_config_s *c = o;

	for (unsigned i = 0; i < fk.nr_objects; i++) {
		if (fk.objects[i] != o)
			continue;
		if (c->magic == magic && !c->released)
			return true;
		fk_violation("%s: object %s", fn,
			     c->released ? "used after os_release" : "of wrong type");
		return false;
	}
	fk_violation("%s: not an object the framework made", fn);
	return false;
}

void os_release(void *object)
{
	struct hv_vm_config_s *c = object;
	bool ours = false;

	pthread_mutex_lock(&fk.lock);
	fk_count(__func__);
	for (unsigned i = 0; i < fk.nr_objects; i++)
		ours |= fk.objects[i] == object;
	if (!ours)
		fk_violation("os_release(%p): not an object the framework made", object);
	else if (fk_object_live(object, c->magic, __func__))
		c->released = true;
	pthread_mutex_unlock(&fk.lock);
}

/* ---- VM ---- */

hv_vm_config_t hv_vm_config_create(void)
{
	ENTER();
	LEAVE(object_new(sizeof(struct hv_vm_config_s), VM_CONFIG_MAGIC));
}

hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *ipa_bit_length)
{
	ENTER();
	*ipa_bit_length = fk.host.max_ipa_bits;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vm_config_get_default_ipa_size(uint32_t *ipa_bit_length)
{
	ENTER();
	*ipa_bit_length = fk.host.default_ipa_bits;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t config, uint32_t ipa_bit_length)
{
	ENTER();
	if (!fk_object_live(config, VM_CONFIG_MAGIC, __func__))
		LEAVE(HV_BAD_ARGUMENT);
	if (ipa_bit_length > fk.host.max_ipa_bits) {
		fk_violation("IPA size %u above the maximum %u", ipa_bit_length,
			     fk.host.max_ipa_bits);
		LEAVE(HV_BAD_ARGUMENT);
	}
	config->ipa_bits = ipa_bit_length;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vm_get_max_vcpu_count(uint32_t *max_vcpu_count)
{
	ENTER();
	*max_vcpu_count = fk.host.max_vcpus;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vm_create(hv_vm_config_t config)
{
	ENTER();
	if (config && !fk_object_live(config, VM_CONFIG_MAGIC, __func__))
		LEAVE(HV_BAD_ARGUMENT);
	if (fk.vm) {
		fk_violation("hv_vm_create: the process has a VM already");
		LEAVE(HV_BUSY);
	}
	if (fk.host.vm_create_result != HV_SUCCESS)
		LEAVE(fk.host.vm_create_result);
	fk.vm = true;
	fk.vm_ipa_bits = config ? config->ipa_bits : 0;
	LEAVE(HV_SUCCESS);
}

bool fk_any_vcpu(void)
{
	for (unsigned i = 0; i < FAKE_MAX_VCPUS; i++)
		if (fk.vcpus[i].used && !fk.vcpus[i].destroyed)
			return true;
	return false;
}

hv_return_t hv_vm_destroy(void)
{
	ENTER();
	if (!fk.vm) {
		fk_violation("hv_vm_destroy without a VM");
		LEAVE(HV_BAD_ARGUMENT);
	}
	if (fk_any_vcpu()) {
		fk_violation("hv_vm_destroy with vCPUs alive");
		LEAVE(HV_BUSY);
	}
	fk.vm = fk.gic = false;
	fk.nr_maps = 0;
	LEAVE(HV_SUCCESS);
}

bool fk_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

hv_return_t hv_vm_map(void *addr, hv_ipa_t ipa, size_t size, hv_memory_flags_t flags)
{
	ENTER();
	if (!fk.vm) {
		fk_violation("hv_vm_map without a VM");
		LEAVE(HV_BAD_ARGUMENT);
	}
	if ((uintptr_t)addr % FAKE_PAGE || ipa % FAKE_PAGE || !size || size % FAKE_PAGE) {
		fk_violation("hv_vm_map(%p, %#llx, %#zx): not 16 KiB aligned", addr,
			     (unsigned long long)ipa, size);
		LEAVE(HV_BAD_ARGUMENT);
	}
	if (ipa == 0) {
		fk_violation("hv_vm_map at GPA 0");
		LEAVE(HV_BAD_ARGUMENT);
	}
	if (flags & ~(hv_memory_flags_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)) {
		fk_violation("hv_vm_map: unknown flags %#llx", (unsigned long long)flags);
		LEAVE(HV_BAD_ARGUMENT);
	}
	for (unsigned i = 0; i < fk.nr_maps; i++) {
		if (fk_overlaps(ipa, size, fk.maps[i].gpa, fk.maps[i].size)) {
			fk_violation("hv_vm_map: %#llx overlaps a mapping",
				     (unsigned long long)ipa);
			LEAVE(HV_BAD_ARGUMENT);
		}
	}
	if (fk.nr_maps == FAKE_MAX_MAPS)
		LEAVE(HV_NO_RESOURCES);
	fk.maps[fk.nr_maps].gpa = ipa;
	fk.maps[fk.nr_maps++].size = size;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size)
{
	ENTER();
	for (unsigned i = 0; i < fk.nr_maps; i++) {
		if (fk.maps[i].gpa == ipa && fk.maps[i].size == size) {
			fk.maps[i] = fk.maps[--fk.nr_maps];
			LEAVE(HV_SUCCESS);
		}
	}
	fk_violation("hv_vm_unmap(%#llx, %#zx): no such mapping", (unsigned long long)ipa, size);
	LEAVE(HV_BAD_ARGUMENT);
}

/* ---- GIC ---- */

hv_gic_config_t hv_gic_config_create(void)
{
	ENTER();
	if (!fk_gic_api_ok(__func__))
		LEAVE(NULL);
	if (!fk.vm)
		fk_violation("hv_gic_config_create before hv_vm_create");
	LEAVE(object_new(sizeof(struct hv_gic_config_s), GIC_CONFIG_MAGIC));
}

hv_return_t hv_gic_config_set_distributor_base(hv_gic_config_t config,
					       hv_ipa_t distributor_base_address)
{
	ENTER();
	if (!fk_gic_api_ok(__func__) || !fk_object_live(config, GIC_CONFIG_MAGIC, __func__))
		LEAVE(HV_BAD_ARGUMENT);
	config->dist = distributor_base_address;
	config->dist_set = true;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_gic_config_set_redistributor_base(hv_gic_config_t config,
						 hv_ipa_t redistributor_base_address)
{
	ENTER();
	if (!fk_gic_api_ok(__func__) || !fk_object_live(config, GIC_CONFIG_MAGIC, __func__))
		LEAVE(HV_BAD_ARGUMENT);
	config->redist = redistributor_base_address;
	config->redist_set = true;
	LEAVE(HV_SUCCESS);
}

#define GIC_GETTER(fn, field)                  \
	hv_return_t fn(size_t *value)          \
	{                                      \
		ENTER();                       \
		if (!fk_gic_api_ok(__func__))  \
			LEAVE(HV_UNSUPPORTED); \
		*value = fk.host.field;        \
		LEAVE(HV_SUCCESS);             \
	}
GIC_GETTER(hv_gic_get_distributor_size, dist_size)
GIC_GETTER(hv_gic_get_redistributor_size, redist_size)
GIC_GETTER(hv_gic_get_redistributor_region_size, redist_region_size)
GIC_GETTER(hv_gic_get_distributor_base_alignment, dist_align)
GIC_GETTER(hv_gic_get_redistributor_base_alignment, redist_align)

hv_return_t hv_gic_get_spi_interrupt_range(uint32_t *spi_intid_base, uint32_t *spi_intid_count)
{
	ENTER();
	if (!fk_gic_api_ok(__func__))
		LEAVE(HV_UNSUPPORTED);
	*spi_intid_base = fk.host.spi_base;
	*spi_intid_count = fk.host.spi_count;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_gic_create(hv_gic_config_t c)
{
	ENTER();
	if (!fk_gic_api_ok(__func__) || !fk_object_live(c, GIC_CONFIG_MAGIC, __func__))
		LEAVE(HV_BAD_ARGUMENT);
	if (!fk.vm || fk.gic || fk_any_vcpu()) {
		fk_violation("hv_gic_create %s", !fk.vm ? "without a VM" :
						 fk.gic ? "twice" :
							  "after a vCPU was created");
		LEAVE(HV_BUSY);
	}
	if (!c->dist_set || !c->redist_set || c->dist % fk.host.dist_align ||
	    c->redist % fk.host.redist_align ||
	    fk_overlaps(c->dist, fk.host.dist_size, c->redist, fk.host.redist_region_size)) {
		fk_violation("hv_gic_create: bases %#llx/%#llx unset, misaligned or overlapping",
			     (unsigned long long)c->dist, (unsigned long long)c->redist);
		LEAVE(HV_BAD_ARGUMENT);
	}
	for (unsigned i = 0; i < fk.nr_maps; i++) {
		if (fk_overlaps(c->dist, fk.host.dist_size, fk.maps[i].gpa, fk.maps[i].size) ||
		    fk_overlaps(c->redist, fk.host.redist_region_size, fk.maps[i].gpa,
				fk.maps[i].size)) {
			/* HVF's redistributor region covers every vCPU it supports. */
			fk_violation("hv_gic_create: GIC overlaps guest RAM");
			LEAVE(HV_BAD_ARGUMENT);
		}
	}
	fk.gic = true;
	fk.gicd = c->dist;
	fk.gicr = c->redist;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_gic_set_spi(uint32_t intid, bool level)
{
	ENTER();
	if (!fk_gic_api_ok(__func__))
		LEAVE(HV_UNSUPPORTED);
	if (!fk.gic) {
		fk_violation("hv_gic_set_spi without a GIC");
		LEAVE(HV_NO_DEVICE);
	}
	if (intid < fk.host.spi_base || intid >= fk.host.spi_base + fk.host.spi_count) {
		fk_violation("hv_gic_set_spi(%u): not an SPI INTID", intid);
		LEAVE(HV_BAD_ARGUMENT);
	}
	fk.spi_seen = true;
	fk.spi_intid = intid;
	fk.spi_level = level;
	pthread_cond_broadcast(&fk.cond);
	LEAVE(HV_SUCCESS);
}
