# Two entry points for a fresh machine: `make run` (the main job) and `make test`.
# Everything they need (Debian packages, the host venv, MicroPython built from Debian's
# source package) is installed here, idempotently, and rebuilt only when its inputs change.

SHELL := /bin/bash
.DEFAULT_GOAL := test

# MicroPython: Debian 13 (trixie) source package, pinned. 1.25.0 is the newest release in a
# Debian *stable* suite, so the pin stays fetchable; it has tls with DTLS client/server,
# asyncio, and builds against both Debian 12's mbedTLS 2.28 and Debian 13's 3.6.
MPY_VERSION  := 1.25.0+ds-1
MPY_UPSTREAM := $(firstword $(subst -, ,$(MPY_VERSION)))

TOP      := $(CURDIR)
BUILD    := $(TOP)/build
MPY_SRC  := $(BUILD)/mpy/micropython-$(MPY_VERSION)
STAMPS   := $(BUILD)/stamps
VENV     := $(TOP)/.venv
PY       := $(VENV)/bin/python
BIN      := $(BUILD)/bin
MICROPY  := $(BIN)/micropython
MPYCROSS := $(BIN)/mpy-cross
QEMU_ELF := $(BIN)/firmware-qemu-mps2-an385.elf

APT_PACKAGES := build-essential pkg-config dpkg-dev xz-utils libffi-dev libmbedtls-dev \
  libcoap3-bin python3-openssl sqlite3 qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi

FIRMWARE_SRC := $(shell find firmware boards -name '*.py' 2>/dev/null)
UNIX_FLAGS := MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0 \
  FROZEN_MANIFEST=$(TOP)/boards/unix/manifest.py
JOBS ?= $(shell nproc)

.PHONY: test run bench device qemu deps apt venv mpy clean distclean

# --- set-up ---------------------------------------------------------------------------------

deps: apt venv mpy

apt: $(STAMPS)/apt
$(STAMPS)/apt: Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	fi
	@mkdir -p $(STAMPS) && touch $@

venv: $(STAMPS)/venv
$(STAMPS)/venv: host_tools/requirements.txt host_tools/requirements-nodeps.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q -r host_tools/requirements.txt 2>&1 | grep -v 'is ignored' || true
	@$(PY) -m pip install -q --no-deps -r host_tools/requirements-nodeps.txt 2>&1 | grep -v 'is ignored' || true
	@$(PY) -c 'import aiocoap, cbor2, hypothesis, pytest, xdist'
	@mkdir -p $(STAMPS) && touch $@

$(MPY_SRC)/.fetched: | $(STAMPS)/apt
	@mkdir -p $(BUILD)/mpy
	sh host_tools/mpbuild/fetch_source.sh $(MPY_VERSION) $(MPY_SRC)
	@touch $@

$(MPYCROSS): $(MPY_SRC)/.fetched
	$(MAKE) -s -C $(MPY_SRC)/mpy-cross -j$(JOBS) >/dev/null
	@mkdir -p $(BIN) && cp $(MPY_SRC)/mpy-cross/build/mpy-cross $@.tmp && mv -f $@.tmp $@

# The frozen firmware is an input: the Unix port re-freezes only what changed.
$(MICROPY): $(MPYCROSS) $(FIRMWARE_SRC)
	@start=$$(date +%s); \
	$(MAKE) -s -C $(MPY_SRC)/ports/unix -j$(JOBS) $(UNIX_FLAGS) >$(BUILD)/unix-build.log 2>&1 \
	  || { tail -40 $(BUILD)/unix-build.log; exit 1; }; \
	echo "micropython: unix port built in $$(( $$(date +%s) - start )) s"
	@cp $(MPY_SRC)/ports/unix/build-standard/micropython $@.tmp && mv -f $@.tmp $@

mpy: $(MICROPY)

qemu: $(QEMU_ELF)
$(QEMU_ELF): $(MPYCROSS) $(FIRMWARE_SRC)
	@start=$$(date +%s); \
	$(MAKE) -s -C $(MPY_SRC)/ports/qemu -j$(JOBS) BOARD=MPS2_AN385 \
	  FROZEN_MANIFEST=$(TOP)/boards/qemu_mps2_an385/manifest.py >$(BUILD)/qemu-build.log 2>&1 \
	  || { tail -40 $(BUILD)/qemu-build.log; exit 1; }; \
	echo "micropython: qemu port built in $$(( $$(date +%s) - start )) s"
	@cp $(MPY_SRC)/ports/qemu/build-MPS2_AN385/firmware.elf $@.tmp && mv -f $@.tmp $@

# --- the two commands -----------------------------------------------------------------------

test: deps qemu
	$(PY) -m pytest -n $(JOBS) tests

run: deps
	$(PY) -m host_tools.demo

bench: deps
	$(PY) -m host_tools.bench

# The simulated device (frozen firmware, Unix port) against any LwM2M server or bootstrap server:
#   make device SERVER=coap://host:5683 EP=my-device [LIFETIME=60] [BOOTSTRAP=coap://host:5783] [QUEUE=1]
#   coaps:// (certificate mode) adds DEVICE_ARGS="--cert c.der --key k.der --server-cert ca.der
#   --cert-usage 0 [--sni name]" (docs/lwm2m-client.md)
SERVER ?= coap://127.0.0.1:5683
EP ?= cellfw-$(shell hostname)
LIFETIME ?= 60
device: deps
	@mkdir -p $(BUILD)/device-state
	MICROPYPATH=.frozen $(MICROPY) -m lwm2m.client --server $(SERVER) --ep $(EP) --lifetime $(LIFETIME) \
	  --state $(BUILD)/device-state $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP)) $(if $(QUEUE),--queue) \
	  $(DEVICE_ARGS)

clean:
	rm -rf $(BIN) $(STAMPS)
	-$(MAKE) -s -C $(MPY_SRC)/ports/unix clean
	-$(MAKE) -s -C $(MPY_SRC)/ports/qemu BOARD=MPS2_AN385 clean

distclean:
	rm -rf $(BUILD) $(VENV)
