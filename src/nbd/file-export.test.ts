import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileExport } from './file-export.js';
import { TidemarkError } from '../common/errors.js';

describe('FileExport', () => {
  let dir: string;

  before(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tm-file-export-')); });
  after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('creates a sparse file of the requested size and reads zeroes from it', async () => {
    const file = path.join(dir, 'new.raw');
    const exp = await FileExport.open(file, { size: 3 * 1024 * 1024 + 7, name: 'n' });
    assert.equal(exp.size, 3 * 1024 * 1024 + 7);
    assert.equal((await fs.stat(file)).size, exp.size);
    const into = Buffer.alloc(100, 0xff);
    await exp.read(exp.size - 100, into);
    assert.ok(into.every((b) => b === 0));
    await exp.close();
  });

  it('writes, flushes, zeroes and trims byte ranges exactly', async () => {
    const file = path.join(dir, 'rw.raw');
    await fs.writeFile(file, Buffer.alloc(4 * 1024 * 1024, 0x11));
    const exp = await FileExport.open(file);
    assert.equal(exp.size, 4 * 1024 * 1024);
    await exp.write(10, Buffer.from('hello'), true);
    await exp.flush();
    await exp.writeZeroes(100, 2 * 1024 * 1024 + 3, false);
    await exp.trim(3 * 1024 * 1024, 5, true);
    await exp.close();
    const got = await fs.readFile(file);
    assert.equal(got.toString('latin1', 10, 15), 'hello');
    assert.equal(got[99], 0x11);
    assert.ok(got.subarray(100, 100 + 2 * 1024 * 1024 + 3).every((b) => b === 0));
    assert.equal(got[100 + 2 * 1024 * 1024 + 3], 0x11);
    assert.ok(got.subarray(3 * 1024 * 1024, 3 * 1024 * 1024 + 5).every((b) => b === 0));
  });

  it('opens read-only without changing the file, and says why it cannot open a missing one', async () => {
    const file = path.join(dir, 'ro.raw');
    await fs.writeFile(file, Buffer.alloc(8192, 3));
    const exp = await FileExport.open(file, { readOnly: true, size: 1 << 20 });
    assert.equal(exp.readOnly, true);
    assert.equal(exp.size, 8192, 'a read-only export is never extended');
    await assert.rejects(exp.write(0, Buffer.from('x'), false));
    await exp.close();
    await assert.rejects(FileExport.open(path.join(dir, 'missing.raw')),
      (err: unknown) => err instanceof TidemarkError && err.code === 'TM_IO' && /missing\.raw/.test(err.message));
  });
});
