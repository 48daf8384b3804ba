// Types of the public API, checked by tsc (test/unit/typecheck.test.ts compiles every test file): a
// wrong type here fails that test. Nothing runs a container.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Container, ContainerDetails, ContainerInfo, DetachedContainer, LogEntry } from '../../lib/index.js';
import { containerLogs, create, createContainer, inspectContainer, listContainers, renameContainer, run, start, startContainer } from '../../lib/index.js';

describe('the public API, by type', () => {
  it('run({ detach: true }) is typed as the detached handle; run() otherwise as a Container', () => {
    const detached = () => run({ image: 'host', cmd: ['true'], detach: true });
    const attached = () => run({ image: 'host', cmd: ['true'] });
    expectTypeOf(detached).returns.resolves.toEqualTypeOf<DetachedContainer>();
    expectTypeOf(attached).returns.resolves.toEqualTypeOf<Container>();
  });

  it('the store readers are async, like the rest of the API', () => {
    expectTypeOf(listContainers).returns.resolves.toEqualTypeOf<ContainerInfo[]>();
    expectTypeOf(inspectContainer).returns.resolves.toEqualTypeOf<ContainerDetails>();
    expectTypeOf(containerLogs).returns.resolves.toEqualTypeOf<LogEntry[]>();
    expectTypeOf(renameContainer).returns.resolves.toEqualTypeOf<void>();
  });

  it("Docker Engine API's names are the same functions (createContainer, startContainer)", () => {
    expect(createContainer).toBe(create);
    expect(startContainer).toBe(start);
  });
});
