/**
 * One line of a change's human preview: a field, its value before and after (secrets already
 * masked). The domain builds these; the terminal layer (src/ui) only draws them.
 */
export interface DiffLine {
  field: string;
  before: string;
  after: string;
}
