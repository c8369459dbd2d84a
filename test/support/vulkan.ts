/**
 * A software Vulkan for the GPU-route tests: Mesa 25's lavapipe unpacked by
 * scripts/fetch-lavapipe.sh into $TSLAB_DL_LAVAPIPE (CI) or .cache/lavapipe (a developer's
 * machine). Tests that need it run in a child process with this environment, or skip with the
 * reason. Software Vulkan is slow: keep what runs on it small.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** The environment that makes Dawn see lavapipe, or a reason why it cannot. */
export function lavapipeEnv(): { env?: NodeJS.ProcessEnv; missing?: string } {
  const folder = process.env.TSLAB_DL_LAVAPIPE ?? path.join(ROOT, '.cache', 'lavapipe');
  const icd = path.join(folder, 'lvp_icd.json');
  if (!fs.existsSync(icd)) return { missing: `no software Vulkan at ${folder} (run scripts/fetch-lavapipe.sh ${folder})` };
  if (!['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/x86_64-linux-gnu/libvulkan.so.1'].some((f) => fs.existsSync(f))) {
    return { missing: 'the Vulkan loader is not installed (apt-get install libvulkan1)' };
  }
  const libdir = path.join(folder, 'usr', 'lib', 'x86_64-linux-gnu');
  return {
    env: {
      VK_ICD_FILENAMES: icd,
      VK_DRIVER_FILES: icd,
      LD_LIBRARY_PATH: [libdir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    },
  };
}
