/** Every test file: kill the child processes it started and left running, even after a timed-out test. */
import { killTrackedChildren } from './helpers/child-processes';

afterAll(killTrackedChildren);
