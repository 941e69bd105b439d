import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** Section names of an INI file (`[default]`, `[profile research]`). */
function sections(text: string): string[] {
  return [...text.matchAll(/^\s*\[([^\]]+)\]\s*$/gm)].map((match) => match[1].trim())
}

/**
 * The profile names of the user's AWS shared config and credentials files (`AWS_CONFIG_FILE`,
 * `AWS_SHARED_CREDENTIALS_FILE`, else ~/.aws/config and ~/.aws/credentials), sorted, `default` first.
 * SSO session sections are not profiles and are left out.
 */
export async function listAwsProfiles(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const home = env.HOME ?? os.homedir()
  const configFile = env.AWS_CONFIG_FILE ?? path.join(home, '.aws', 'config')
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, '.aws', 'credentials')
  const read = (file: string) => fs.readFile(file, 'utf8').catch(() => '')
  const names = new Set<string>()
  for (const section of sections(await read(configFile))) {
    if (section === 'default') names.add('default')
    else if (section.startsWith('profile ')) names.add(section.slice('profile '.length).trim())
  }
  for (const section of sections(await read(credentialsFile))) names.add(section)
  return [...names].sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
}
