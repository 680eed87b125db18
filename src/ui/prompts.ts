/** Interactive questions. @inquirer/prompts is loaded only when a question is really asked. */
export async function askConfirm(message: string, def = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message, default: def }, { output: process.stderr });
}

export async function askSecret(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return password({ message, mask: false }, { output: process.stderr });
}

export async function askText(message: string, validate?: (s: string) => true | string): Promise<string> {
  const { input } = await import('@inquirer/prompts');
  return input({ message, validate }, { output: process.stderr });
}
