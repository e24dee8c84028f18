package workflowcheck

// shell: the runner refuses a composite action's run: step without shell:.
type shell struct{}

func (shell) Name() string    { return "shell" }
func (shell) Summary() string { return "a composite action's run: steps name their shell" }

func (shell) Step(c *Check, s *Step) {
	if s.Action == nil {
		return
	}
	if k, _ := Get(s.Node, "run"); k != nil {
		if _, sh := Get(s.Node, "shell"); sh == nil {
			c.Report(s.File, k.Line, "a composite action's run: step needs shell: (the runner refuses it otherwise)")
		}
	}
}
