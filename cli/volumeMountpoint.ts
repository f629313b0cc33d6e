// Where a named Docker volume of a local stack is on this machine: the CLI commands that read a
// stack's volume in place (quarantine, egress) look it up here.
import { execFile } from 'child_process';
import { promisify } from 'util';

const run = promisify(execFile);

/** The volume's mount point, or the engine's first line of why it has none. */
export async function volumeMountpoint(volume: string, dockerHost: string): Promise<{ path: string } | { why: string }> {
  try {
    const { stdout } = await run('docker', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume], {
      env: { ...process.env, DOCKER_HOST: dockerHost },
      timeout: 30_000,
    });
    return { path: stdout.trim() };
  } catch (e) {
    return { why: ((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n')[0] };
  }
}
