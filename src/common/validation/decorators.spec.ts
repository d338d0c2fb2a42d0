import { Type } from 'class-transformer';
import { ValidateNested } from 'class-validator';
import { IsDeepJson } from './deep-json.decorator';
import { IsDisplayName } from './display-name';
import { IsSha256Hex } from './sha256';
import { IsUsername } from './username';
import { validateDto } from './validate-dto';
import { validationDetails } from '../../../test/support/validation-details';

class Sample {
  @IsSha256Hex('hash must be 64 lowercase hex characters') hash!: string;
  @IsUsername() username!: string;
  @IsDisplayName() name!: string;
  @IsDeepJson() inputs!: unknown;
}

class Task {
  @IsDeepJson() inputs!: unknown;
}

class Envelope {
  @ValidateNested() @Type(() => Task) task!: Task;
}

const valid = { hash: 'a'.repeat(64), username: 'alice_1', name: 'CI runner ✓', inputs: { a: [1, null] } };

const details = (patch: Record<string, unknown>) => validationDetails(Sample, { ...valid, ...patch });

describe('composite validators', () => {
  it('accept a valid body', async () => {
    expect(await details({})).toEqual([]);
  });

  it('IsSha256Hex: lowercase hex of 64 only, the pattern reported first', async () => {
    for (const hash of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64)]) {
      expect(await details({ hash })).toEqual([
        { field: 'hash', message: 'hash must be 64 lowercase hex characters' },
      ]);
    }
    // A value of the wrong type is told its type alone.
    expect(await details({ hash: 7 })).toEqual([{ field: 'hash', message: 'hash must be a string' }]);
  });

  it('IsUsername: 3–32 of A–Z a–z 0–9 _', async () => {
    expect(await details({ username: 'abc' })).toEqual([]);
    expect(await details({ username: 'a'.repeat(32) })).toEqual([]);
    for (const username of ['ab', 'a'.repeat(33), 'a b', 'ä_user', 'a-b']) {
      expect(await details({ username })).toEqual([
        { field: 'username', message: 'username must be 3 to 32 characters of A-Z, a-z, 0-9 and _' },
      ]);
    }
  });

  it('IsDisplayName: 1–128 characters, no control characters, each rule reported', async () => {
    expect(await details({ name: 'n'.repeat(128) })).toEqual([]);
    expect(await details({ name: 'a\u0007b' })).toEqual([
      { field: 'name', message: 'name must not contain control characters' },
    ]);
    expect(await details({ name: 'n'.repeat(129) })).toEqual([
      { field: 'name', message: 'name must be shorter than or equal to 128 characters' },
    ]);
    // Empty is too short, not a control character.
    expect(await details({ name: '' })).toEqual([
      { field: 'name', message: 'name must be longer than or equal to 1 characters' },
    ]);
    expect(await details({ name: 3 })).toEqual([{ field: 'name', message: 'name must be a string' }]);
  });

  it('IsDeepJson: the detail names the path inside the value and the rule', async () => {
    expect(await details({ inputs: { list: [{ ok: 1 }, Array(1001).fill(0)] } })).toEqual([
      { field: 'inputs.list[1]', message: 'max_array_items: array has more than 1000 items' },
    ]);
    expect(await details({ inputs: { 'odd key': 'x'.repeat(10_001) } })).toEqual([
      {
        field: 'inputs["odd key"]',
        message:
          'max_string_length: string is longer than 10000 characters (UTF-16 units: an emoji counts two)',
      },
    ]);
    await expect(
      validateDto(Envelope, { task: { inputs: { s: 'x'.repeat(10_001) } } }),
    ).rejects.toMatchObject({
      extra: {
        details: [
          {
            field: 'task.inputs.s',
            message:
              'max_string_length: string is longer than 10000 characters (UTF-16 units: an emoji counts two)',
          },
        ],
      },
    });
    const deep = JSON.parse('['.repeat(17) + ']'.repeat(17)) as unknown;
    expect(await details({ inputs: deep })).toEqual([
      { field: `inputs${'[0]'.repeat(16)}`, message: 'max_depth: nesting is deeper than 16 levels' },
    ]);
  });
});
