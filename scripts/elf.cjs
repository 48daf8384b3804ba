// What the prebuilt binaries must be, read from their ELF headers (no binutils needed, any architecture):
// the machine, static or not (PT_INTERP), stripped or not (.symtab, .debug_*), and the symbol versions a
// shared object needs from each library (.gnu.version_r, with the symbols that need each version from
// .dynsym + .gnu.version). Used by scripts/prebuild.cjs (refuses to lay out a binary over the baseline)
// and test/integration/binaries.test.ts.
'use strict';
const fs = require('node:fs');

/** e_machine values of the architectures pocker ships. */
const MACHINES = { 62: 'x64', 183: 'arm64' };

/** The baseline: Node 20's own (glibc 2.28), and nothing from libstdc++ (linked in statically);
 * libgcc_s's unwinder versions as GCC 8's has them (GCC_7.0.0 is its newest). */
const BASELINE = { GLIBC: '2.28', GCC: '7.0.0' };

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * Reads an ELF64 little-endian file. Returns { machine, arch, type, static (no interpreter, no dynamic
 * section), stripped (no .symtab), debugSections, needs: [{ file, version, weak, symbols }], exported }.
 */
function readElf(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF`);
  const type = buf.readUInt16LE(0x10);
  const machine = buf.readUInt16LE(0x12);
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);

  let interp = false;
  let dynamic = false;
  for (let i = 0; i < phnum; i++) {
    const p = buf.readUInt32LE(phoff + i * phentsize);
    if (p === 3 /* PT_INTERP */) interp = true;
    if (p === 2 /* PT_DYNAMIC */) dynamic = true;
  }

  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      nameOff: buf.readUInt32LE(o),
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
      info: buf.readUInt32LE(o + 0x2c),
      entsize: Number(buf.readBigUInt64LE(o + 0x38)),
    });
  }
  const cstr = (off) => buf.toString('latin1', off, buf.indexOf(0, off));
  const shstr = sections[shstrndx];
  for (const s of sections) s.name = shstr ? cstr(shstr.offset + s.nameOff) : '';

  const SHT_SYMTAB = 2;
  const SHT_DYNSYM = 11;
  const SHT_GNU_verneed = 0x6ffffffe;
  const SHT_GNU_versym = 0x6fffffff;

  // .gnu.version_r: per needed file, the versions needed (vna_other: the index .gnu.version uses).
  const needs = [];
  const byIndex = new Map();
  const verneed = sections.find((s) => s.type === SHT_GNU_verneed);
  if (verneed) {
    const strtab = sections[verneed.link];
    let at = verneed.offset;
    for (let n = 0; n < verneed.info; n++) {
      const cnt = buf.readUInt16LE(at + 2);
      const file = cstr(strtab.offset + buf.readUInt32LE(at + 4));
      let aux = at + buf.readUInt32LE(at + 8);
      for (let k = 0; k < cnt; k++) {
        const other = buf.readUInt16LE(aux + 6);
        const need = { file, version: cstr(strtab.offset + buf.readUInt32LE(aux + 8)), weak: (buf.readUInt16LE(aux + 4) & 2) !== 0, symbols: [] };
        needs.push(need);
        byIndex.set(other, need);
        const next = buf.readUInt32LE(aux + 12);
        if (!next) break;
        aux += next;
      }
      const next = buf.readUInt32LE(at + 12);
      if (!next) break;
      at += next;
    }
  }
  // Which undefined dynamic symbols need each version.
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_versym);
  const exported = [];
  if (dynsym) {
    const strtab = sections[dynsym.link];
    const count = dynsym.size / 24;
    for (let i = 1; i < count; i++) {
      const o = dynsym.offset + i * 24;
      const name = cstr(strtab.offset + buf.readUInt32LE(o));
      const shndx = buf.readUInt16LE(o + 6);
      if (shndx !== 0) {
        if (name) exported.push(name);
        continue;
      }
      const ver = versym ? buf.readUInt16LE(versym.offset + i * 2) & 0x7fff : 0;
      byIndex.get(ver)?.symbols.push(name);
    }
  }
  return {
    machine,
    arch: MACHINES[machine] ?? `e_machine ${machine}`,
    type: type === 2 ? 'executable' : type === 3 ? 'shared' : `e_type ${type}`,
    static: !interp && !dynamic,
    stripped: !sections.some((s) => s.type === SHT_SYMTAB),
    debugSections: sections.filter((s) => s.name.startsWith('.debug') || s.name.startsWith('.zdebug')).map((s) => s.name),
    needs,
    exported,
  };
}

/** The needed versions above the baseline, as readable lines (empty: within it). */
function overBaseline(elf) {
  const out = [];
  for (const n of elf.needs) {
    const m = /^([A-Z]+)_([0-9.]+)$/.exec(n.version);
    const family = m?.[1];
    const what = `${n.version} (${n.file}: ${n.symbols.join(', ') || 'no symbol'})`;
    if (family === 'GLIBCXX' || family === 'CXXABI') out.push(`${what}: libstdc++ must be linked statically`);
    else if (family && BASELINE[family] && compareVersions(m[2], BASELINE[family]) > 0) out.push(`${what}: newer than ${family}_${BASELINE[family]}`);
  }
  return out;
}

/** The newest needed version of a family ('GLIBC', 'GCC', ...), or undefined. */
function maxVersion(elf, family) {
  let max;
  for (const n of elf.needs) {
    const m = /^([A-Z]+)_([0-9.]+)$/.exec(n.version);
    if (m?.[1] === family && (!max || compareVersions(m[2], max) > 0)) max = m[2];
  }
  return max;
}

module.exports = { readElf, overBaseline, maxVersion, compareVersions, BASELINE, MACHINES };
