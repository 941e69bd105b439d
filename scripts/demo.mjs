// The main job on the embedded default (local disk, no cloud). Placeholder until `convert` lands.
import {execFileSync} from 'node:child_process'

execFileSync(process.execPath, ['bin/run.js', 'sources'], {stdio: 'inherit'})
