/** The tools the gateway runs itself during one call: RPC tools of products and web search, by name. */

export interface GatewayTool {
  definition: { type: 'function'; function: { name: string; description?: string; parameters?: unknown } }
  /** What the model reads back; failures are text too (only an abort of `signal` throws). */
  run(argumentsJson: string, signal?: AbortSignal): Promise<string>
}

export interface ToolSet {
  /** What to offer the model, one per name. */
  definitions: GatewayTool['definition'][]
  has(name: string): boolean
  /** Runs the tool of that name; an unknown name answers an error text for the model. */
  run(name: string, argumentsJson: string, signal?: AbortSignal): Promise<string>
  size: number
}

/** A set of tools by name: the first tool of a name wins, later ones of the same name are dropped. */
export function createToolSet(tools: GatewayTool[]): ToolSet {
  const byName = new Map<string, GatewayTool>()
  for (const tool of tools) {
    if (!byName.has(tool.definition.function.name)) byName.set(tool.definition.function.name, tool)
  }
  return {
    definitions: [...byName.values()].map((tool) => tool.definition),
    has: (name) => byName.has(name),
    async run(name, argumentsJson, signal) {
      const tool = byName.get(name)
      if (!tool) return JSON.stringify({ error: `there is no tool named "${name}"` })
      return tool.run(argumentsJson, signal)
    },
    size: byName.size,
  }
}
